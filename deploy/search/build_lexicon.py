"""Build ``newsflow/core/data/arabic_lexicon.tsv.gz``: the word list the search segmentation
(``newsflow.core.arabic_segment``) consults to decide whether a leading و/ف/ب/ك/ل or a suffix is a
clitic or part of the word.

Sources, both reproducible from the repository and ../shared:
* word-form counts of SaudiNewsNet (titles and bodies, folded with ``fold_text``);
* names from the hand-written gazetteers in ``processors/data/ner`` and the Arabic country
  names of CLDR/pycountry (the same ``reference_places`` the entity gazetteer uses).
The ANERcorp test split is never read.

Run from the repository root:

    .venv/bin/python deploy/search/build_lexicon.py /path/to/saudinewsnet/*.zip

Output lines: ``word<TAB>count<TAB>flags``, flag ``N`` for a name (never split, never stemmed);
forms seen fewer than ``--min-count`` times are dropped unless they are names.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import zipfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from newsflow.core.arabic import fold_text, is_arabic_word, words  # noqa: E402
from processors.entities.gazetteer import read_list, reference_places  # noqa: E402

OUT = REPO / "newsflow" / "core" / "data" / "arabic_lexicon.tsv.gz"


def corpus_texts(paths: list[Path]) -> Iterator[str]:
    for path in paths:
        with zipfile.ZipFile(path) as zf:
            for name in zf.namelist():
                if not name.endswith(".json"):
                    continue
                for rec in json.loads(zf.read(name)):
                    yield rec.get("title") or ""
                    yield rec.get("content") or ""


def count_words(paths: list[Path]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for text in corpus_texts(paths):
        counts.update(w for w in words(fold_text(text)) if is_arabic_word(w))
    return counts


def _folded_groups(name: str) -> Iterator[list[str]]:
    for group in read_list(name):
        yield [fold_text(alias) for alias in group]


def gazetteer_names() -> set[str]:
    """Single-word names. Ambiguous given names (حسن, أمل) and place names
    that are everyday words are common words here, so they are not names."""
    stop = {w for g in _folded_groups("stopwords.txt") for a in g for w in a.split()}
    structural = set(stop)
    for name in ("titles.txt", "name_links.txt", "ordinals.txt", "generic_adjectives.txt",
                 "given_names_ambiguous.txt", "blocklist.txt", "org_heads.txt", "loc_cues.txt"):
        structural |= {w for g in _folded_groups(name) for a in g for w in a.split()}
    names: set[str] = set()
    for name in ("given_names.txt", "family_names.txt"):
        names |= {a for g in _folded_groups(name) for a in g if " " not in a}
    # Every word of a well-known person's name (فلاديمير بوتين, كيم جونغ اون) is a name.
    names |= {w for g in _folded_groups("persons.txt") for a in g for w in a.split()}
    # Places and organisations only when the whole name is one word (لبنان, ايران, ارامكو):
    # the words of المملكه العربيه السعوديه or وزاره الخارجيه are ordinary words.
    for name in ("locations.txt", "organizations.txt"):  # misc.txt: currencies, events (دولار)
        names |= {a for g in _folded_groups(name) for a in g if " " not in a}
    names |= {k for k in (fold_text(p) for p in reference_places()) if k and " " not in k}
    return {n for n in names if len(n) >= 3 and is_arabic_word(n)} - structural


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("zips", nargs="+", type=Path, help="SaudiNewsNet daily zips")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--min-count", type=int, default=3)
    args = parser.parse_args(argv)
    counts = count_words(args.zips)
    names = gazetteer_names()
    rows = []
    for word in sorted(set(counts) | names):
        flags = "N" if word in names else ""
        if counts[word] >= args.min_count or flags:
            rows.append(f"{word}\t{counts[word]}\t{flags}\n")
    # mtime=0: the same inputs give byte-identical output (reviewable in git).
    with args.out.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as fh:
        fh.write("".join(rows).encode("utf-8"))
    print(f"{len(rows)} forms ({len(names)} names) -> {args.out} "
          f"({args.out.stat().st_size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
