"""Search segmentation: one folded word -> the index term(s) it stands for. The Elasticsearch
document (``seg.*`` fields, whitespace-analyzed) and the query are built with the SAME function,
so the morphology is right on any cluster without an analysis plugin.

Lucene's Arabic light stemmer strips a leading و from every word (وزير -> زير, but الوزير ->
وزير) and ان from names (لبنان -> لبن, the word for milk). Here a prefix or suffix is removed only
when the word list says the rest is the better-attested word:

* proclitics (و ف ب ك ل, ال and their chains from ``newsflow.core.arabic.PREFIXES``): the article
  is always removed (a definite word is a noun, the rest is its stem) unless the definite form
  is a name (الرياض) or the rest would be under ``MIN_STEM`` letters (الله, التي); a bare
  conjunction or preposition is removed when the rest is clearly better attested than the whole
  word (ووزير -> وزير, وقال -> قال) and kept when the whole word is itself a noun stem, i.e. is
  seen with the article (وزير, since الوزير exists). Close calls index both terms;
* names (gazetteers) are never split and never stemmed: لبنان stays لبنان, and no suffix
  removal may land on a name (انسان is not انس);
* light suffixes (plural, dual, pronouns; ات/ت restored to ة): removed when the base is
  attested well enough (الحكومات -> حكومه, وزيران -> وزير); ة itself is never removed, so
  مدرسة and مدرس stay apart.

The evidence for a stem ``x`` is ``count(x) + count(ال + x)`` in the word list, which is built
from SaudiNewsNet and the gazetteers by ``deploy/search/build_lexicon.py``.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files

from newsflow.core.arabic import (
    ARTICLE,
    MIN_STEM,
    PREFIXES,
    SUFFIXES,
    TAA_SUFFIXES,
    clean_display,
    fold_text,
    is_arabic_word,
    strip_marks,
    words,
)

LEXICON_RESOURCE = "data/arabic_lexicon.tsv.gz"
PLURALS_RESOURCE = "data/broken_plurals.tsv"
# Nisba and feminine endings are not removed: عراقي is not عراق, روسيا is not روس, and a
# remainder of ي/يه would conflate an adjective with the country or family it names.
_NOT_LIGHT = frozenset({"", "ي", "يه", "يون", "يين", "يات", "يا"})
LIGHT_SUFFIXES: tuple[str, ...] = tuple(
    sorted(SUFFIXES - _NOT_LIGHT, key=lambda s: (-len(s), s))
)
_CLITIC_STARTS = frozenset(PREFIXES - {""})
# Hamza seats vary in spelling (مسؤول / مسئول, رئيس / رءيس): the search terms write every seat
# as a bare hamza. Search only: entity keys and ``fold_text`` keep the written seat.
HAMZA_SEATS = str.maketrans({"ؤ": "ء", "ئ": "ء"})
_LONGEST_START = max(map(len, _CLITIC_STARTS))


def _starts(word: str) -> list[str]:
    """The proclitic chains ``word`` begins with, longest first (a few set lookups)."""
    top = min(_LONGEST_START, len(word) - 1)
    return [word[:k] for k in range(top, 0, -1) if word[:k] in _CLITIC_STARTS]
# A split wins outright when its stem is this many times better attested than the whole word;
# between 1/AMBIGUOUS_RATIO and SPLIT_RATIO both terms are indexed.
SPLIT_RATIO = 3.0
AMBIGUOUS_RATIO = 10.0
# A suffix comes off when the base has at least this share of the inflected form's evidence.
SUFFIX_SHARE = 0.1
MIN_EVIDENCE = 3
# A name seen with the article in fewer than this share of its uses is never a common noun.
NAME_ARTICLE_SHARE = 0.1


@dataclass(frozen=True, slots=True)
class Lexicon:
    counts: dict[str, int]
    names: frozenset[str]

    def evidence(self, stem: str) -> int:
        return self.counts.get(stem, 0) + self.counts.get(ARTICLE + stem, 0)

    def is_name(self, word: str) -> bool:
        # Callers outside this module pass fold_text forms, which keep the hamza seats.
        return word.translate(HAMZA_SEATS) in self.names


def parse_lexicon(lines: list[str]) -> Lexicon:
    counts: dict[str, int] = {}
    names: set[str] = set()
    for line in lines:
        word, count, flags = [*line.rstrip("\n").split("\t"), "", ""][:3]
        if not word:
            continue
        word = word.translate(HAMZA_SEATS)
        counts[word] = counts.get(word, 0) + int(count or 0)
        if "N" in flags:
            names.add(word)
    return Lexicon(counts, frozenset(names))


@lru_cache(maxsize=1)
def lexicon() -> Lexicon:
    """The packaged word list (built by deploy/search/build_lexicon.py)."""
    raw = files("newsflow.core").joinpath(LEXICON_RESOURCE).read_bytes()
    return parse_lexicon(gzip.decompress(raw).decode("utf-8").splitlines())


@lru_cache(maxsize=1)
def broken_plurals() -> dict[str, str]:
    """Folded broken plural -> folded singular (مدارس -> مدرسه), from the packaged hand-written
    list: no suffix rule can find these, and readers search either number."""
    out: dict[str, str] = {}
    text = files("newsflow.core").joinpath(PLURALS_RESOURCE).read_text(encoding="utf-8")
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            plural, singular = line.split("\t")
            out[_search_fold(plural)] = _search_fold(singular)
    return out


def preload() -> None:
    """Load the word lists now. Loading them takes ~0.3 s of CPU, which the first record
    segmented would otherwise wait for: a process that segments (the indexer) calls this
    before it consumes."""
    lexicon()
    broken_plurals()


def _search_fold(word: str) -> str:
    return fold_text(strip_marks(word)).translate(HAMZA_SEATS)


def _singular(stem: str, lex: Lexicon) -> str | None:
    """The singular of a broken plural, unless the plural is a name (النجوم the club stays)."""
    if lex.is_name(stem) or lex.is_name(ARTICLE + stem):
        return None
    return broken_plurals().get(stem)


def _definite_stem(word: str, prefix: str) -> str | None:
    """The stem after a prefix that carries the article (ال، وال، بال...) or the fused لل."""
    if prefix.endswith(ARTICLE) or prefix.endswith("لل"):
        stem = word[len(prefix) :]
    else:
        return None
    return stem if len(stem) >= MIN_STEM else None


def _proclitic_stems(word: str, lex: Lexicon) -> tuple[str, ...]:
    """The stem(s) of ``word`` once its proclitics are resolved (suffixes untouched)."""
    if lex.is_name(word):
        return _name_or_clitic_name(word, lex)
    # A name after a clitic (ولبنان، بالرياض، وبوتين): the longest such reading wins.
    starts = _starts(word)
    for prefix in starts:
        rest = word[len(prefix) :]
        has_article = prefix.endswith((ARTICLE, "لل"))
        if has_article and lex.is_name(ARTICLE + rest):
            return (ARTICLE + rest,)  # بالرياض، للرياض -> الرياض: the article is the name's
        if lex.is_name(rest):
            return (_unless_name(rest, lex) if has_article else rest,)
    for prefix in starts:
        definite = _definite_stem(word, prefix)
        if definite is not None:
            return (_unless_name(definite, lex),)
    return _bare_clitic_stems(word, lex, starts)


def _name_or_clitic_name(word: str, lex: Lexicon) -> tuple[str, ...]:
    """A name that is also و/ف + a far more frequent name: وجدة is Oujda in a gazetteer but
    nearly always "and Jeddah" in the news. Kept whole unless the other name dominates."""
    whole = lex.counts.get(word, 0)
    for prefix in ("و", "ف"):  # only the conjunctions: بريان is Brian, not ب + ريان
        rest = word[len(prefix) :]
        if not word.startswith(prefix) or len(rest) < MIN_STEM or not lex.is_name(rest):
            continue
        split = lex.counts.get(rest, 0)
        if split >= AMBIGUOUS_RATIO * whole:
            return (rest,)
        if split >= SPLIT_RATIO * whole:
            return (word, rest)
    return (word,)


def _unless_name(stem: str, lex: Lexicon) -> str:
    """A name that is almost never written with the article (جدة the city) keeps it when it
    has one: الجدة is the grandmother and must not match the city. Names that are also common
    nouns (صور Tyre / الصور the pictures) lose it like any noun."""
    with_article = lex.counts.get(ARTICLE + stem, 0)
    if lex.is_name(stem) and with_article < NAME_ARTICLE_SHARE * lex.counts.get(stem, 0):
        return ARTICLE + stem
    return stem


def _bare_clitic_stems(word: str, lex: Lexicon, starts: list[str]) -> tuple[str, ...]:
    """و ف ب ك ل (or a chain like وب) on an indefinite word: clitic or first letter?"""
    candidates = [
        word[len(p) :]
        for p in starts
        if not p.endswith((ARTICLE, "لل")) and len(word) - len(p) >= MIN_STEM
    ]
    if not candidates:
        return (word,)
    best = max(candidates, key=lambda s: (lex.evidence(s), len(s)))
    whole, split = lex.evidence(word), lex.evidence(best)
    if split < MIN_EVIDENCE:
        # Nothing supports the split; an unknown word keeps both readings for recall.
        return (word,) if whole else (word, best)
    if lex.counts.get(ARTICLE + word, 0) >= MIN_EVIDENCE:
        # The whole word takes the article (الوزير): it is a noun stem of its own.
        return (word, best) if split >= SPLIT_RATIO * whole else (word,)
    if split >= SPLIT_RATIO * whole:
        return (best,)
    if split * AMBIGUOUS_RATIO >= whole:
        return (word, best)
    return (word,)


def _light_stem(stem: str, lex: Lexicon) -> str:
    """``stem`` without one inflectional suffix when the base is attested and not a name."""
    if lex.is_name(stem) or len(stem) <= MIN_STEM or not is_arabic_word(stem):
        return stem
    if stem.startswith(ARTICLE) and lex.is_name(stem[2:]):
        return stem  # a name that kept its article (الجده): still a name
    own = lex.evidence(stem)
    best, best_ev = stem, 0
    for suffix in LIGHT_SUFFIXES:
        if not stem.endswith(suffix) or len(stem) - len(suffix) < MIN_STEM:
            continue
        base = stem[: -len(suffix)]
        bases = [base]
        if suffix == "ات":
            bases.append(base + "ه")  # حكومات -> حكومه
        elif suffix in TAA_SUFFIXES and base.endswith("ت"):
            bases.append(base[:-1] + "ه")  # حكومتها -> حكومه
        elif suffix[:1] == "ت" and suffix[1:] in TAA_SUFFIXES:
            bases.append(base + "ه")  # حكومته -> حكومه
        for cand in bases:
            ev = lex.evidence(cand)
            if lex.is_name(cand) or ev < MIN_EVIDENCE or ev < SUFFIX_SHARE * own:
                continue
            if ev > best_ev:
                best, best_ev = cand, ev
    return best


@lru_cache(maxsize=262_144)
def segment_word(word: str) -> tuple[str, ...]:
    """Index/query terms for one folded word (one term, or two when the reading is ambiguous).
    Non-Arabic tokens (Latin, digits) come back unchanged."""
    word = word.translate(HAMZA_SEATS)
    if not is_arabic_word(word) or len(word) < MIN_STEM:
        return (word,)
    lex = lexicon()
    terms = []
    for stem in _proclitic_stems(word, lex):
        # A broken plural as it stands (مدارس), else after a light suffix (مدارسها), gives
        # both terms: the singular finds either number, the plural ranks its own number first.
        singular = _singular(stem, lex)
        if singular is None:
            stem = _light_stem(stem, lex)
            singular = _singular(stem, lex)
        terms.append(stem)
        if singular:
            terms.append(singular)
    return tuple(dict.fromkeys(terms))


# The field value of one word, for the text path: the frequent words (most of any article) skip
# joining their terms again. 65,536 short strings are a few MB; a miss costs one join.
@lru_cache(maxsize=65_536)
def _word_field_terms(word: str) -> str:
    return " ".join(segment_word(word))


def segment_folded(folded: str) -> str:
    """``segment_text`` of text that ``fold_text`` already folded (``body_normalized``): the
    indexer's hot path, where folding the body again was 7% of its profile samples."""
    return " ".join(map(_word_field_terms, words(folded)))


def segment_text(text: str) -> str:
    """The ``seg.*`` field value: every word's terms, space-separated, in text order."""
    return segment_folded(fold_text(text))


def segment_query(text: str) -> list[tuple[str, ...]]:
    """One entry per distinct query word: the alternative terms any of which matches it."""
    out: dict[str, tuple[str, ...]] = {}
    for w in words(fold_text(text)):
        out.setdefault(w, segment_word(w))
    return list(out.values())


# 4,096 pairs answer 80% of the calls on SaudiNewsNet (65,536 answer 83%): a miss costs ~4 us,
# while 65,536 held pairs cost a worker ~16 MB by the end of the corpus.
@lru_cache(maxsize=4_096)
def display_form(surface: str, canonical: str) -> str:
    """How a person reads the entity ``canonical`` that was written ``surface`` in the text:
    the written letters (ة, hamza) without harakat, tatweel or the clitics the canonical form
    dropped (وبالقاهرة -> القاهرة). Falls back to ``canonical`` when the two do not line up
    (an alias: بوتين for فلاديمير بوتين)."""
    written = " ".join(strip_marks(clean_display(surface)).split())
    folded = fold_text(written)
    if folded == canonical:
        return written
    # fold keeps one character per character of mark-free text, so a folded suffix is a
    # written suffix of the same length.
    if canonical and len(folded) == len(written) and folded.endswith(canonical):
        return written[len(written) - len(canonical) :]
    return canonical
