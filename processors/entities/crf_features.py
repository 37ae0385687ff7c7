"""Token features for the CRF backend, read off the rules backend's own analysis.

The rules extractor already folded the text, split it into words, ran the gazetteer automaton
(word classes, proclitic lengths, listed entities) and chose its spans; every feature here is a
lookup into that work. The model's tokens are the non-empty folded words (punctuation is a gap
between words, marked as a feature), so the same code serves ANERcorp sentences and article
bodies.

A token's features come in two parts, kept apart so that inference can cache the first:
* word-type features, a pure function of ``word_key`` (written form, proclitic length,
  gazetteer flags, listed type): folded form, clitic- and article-stripped stem, stem affixes,
  length, shape, prefix, gazetteer classes (given name, title, organisation head, place cue,
  stop word...) and the type of a listed one-word entity;
* occurrence features: the span the rules chose (B/I + type + evidence), every candidate the
  patterns proposed (B/I + type), membership in a listed multi-word entity, gaps, and the
  neighbours' core features at -2..+2 and word bigrams.
``token_features`` spells them all out as strings (training); ``crf_scorer`` adds up the same
weights from cached per-word-type vectors (inference). FEATURE_VERSION changes when they do.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from newsflow.core.arabic import Folded, is_nisba_adjective, strip_article_clitics
from processors.entities.document import Cand, Doc, looks_inflected, verb_shape
from processors.entities.gazetteer import (
    AMBIG,
    ENT,
    GENADJ,
    GIVEN,
    LINK,
    LOCCUE,
    NAMEPART,
    ORDINAL,
    ORGHEAD,
    STOP,
    TITLE,
)

# Judged by cross-validation on the train split (README): 1, the first; 2, the words at
# -2/+2 give all their core features, not only form and stem (worse, dropped); 3, version 1
# and the sentence's sport context.
FEATURE_VERSION = 3
NEIGHBOUR_CORE = 2  # the core features (w=, s=) that the words at -2/+2 give
_SPACES = " \t\u00a0"  # what ``Doc.adjacent`` accepts between two words
_SENTENCE_GAP = re.compile(r"\n|[.!?؟](?=\W*\s)")

FLAG_NAMES = (
    (ENT, "ENT"),
    (GIVEN, "GIVEN"),
    (AMBIG, "AMBIG"),
    (TITLE, "TITLE"),
    (ORGHEAD, "ORGHEAD"),
    (LOCCUE, "LOCCUE"),
    (STOP, "STOP"),
    (LINK, "LINK"),
    (ORDINAL, "ORDINAL"),
    (GENADJ, "GENADJ"),
    (NAMEPART, "NAMEPART"),
)

# Stems (folded, no clitics or article) that make a sentence a sport one: sport pages name
# clubs after their cities and countries (سسكا موسكو، المغرب الفاسي، موناكو), so there a
# listed place is often an organisation. General sport vocabulary, written by hand (no
# word that is common outside sport: هدف، فوز، موسم).
SPORT_STEMS = frozenset(
    {
        "مباراه", "مباريات", "مباراته", "كاس", "دوري", "منتخب", "فريق", "نادي", "انديه", "لاعب",
        "لاعبين", "لاعبو", "لاعبي", "بطوله", "ملعب", "مدرب", "تعادل", "مرمي", "هزيمه", "مونديال",
        "اولمبياد", "اياب",
    }
)

# (folded word, surface, proclitic length, flags, listed type or "")
WordKey = tuple[str, str, int, int, str]


@dataclass(slots=True)
class Occurrences:
    """What the rules said about each model token of one document."""

    index: list[int]  # word index in the Doc of each token
    keys: list[WordKey]
    words: list[str]  # folded words
    rule: list[str]  # "r=" label: B-/I- + type:evidence of the chosen span, or "O"
    extra: list[list[str]]  # "c=" candidate and "gm=" listed multi-word labels
    gap_before: list[bool]  # not written right after the previous token (punctuation, start)
    sentence_ends: list[int]  # exclusive token ends of the sentences, the model's sequences


def stem_of(word: str, plen: int) -> str:
    """The word without the proclitics the gazetteer matched, or a clitic+article prefix, and
    without the article itself (والقاهره -> قاهره)."""
    w = word[plen:] if plen else strip_article_clitics(word)
    return w[2:] if len(w) > 3 and w.startswith("ال") else w


def _shape(surface: str, w: str) -> str:
    if not w.isascii():
        return "ar"
    if w.isdigit():
        return "dig"
    if not w.isalpha():
        return "mix"
    return "UP" if surface.isupper() else ("Ti" if surface[:1].isupper() else "lat")


def word_type_features(key: WordKey) -> tuple[list[str], list[str]]:
    """(own features, core features also given to the neighbours) of a word type."""
    w, surface, plen, fl, etype = key
    stem = stem_of(w, plen)
    core = ["w=" + w, "s=" + stem]
    core.extend("f=" + name for bit, name in FLAG_NAMES if fl & bit)
    if etype:
        core.append("g=" + etype)
    own = [
        "p2=" + stem[:2],
        "p3=" + stem[:3],
        "x1=" + stem[-1:],
        "x2=" + stem[-2:],
        "x3=" + stem[-3:],
        f"len={min(len(stem), 9)}",
        "sh=" + _shape(surface, w),
    ]
    prefix = w[: len(w) - len(stem)] if w.endswith(stem) else ""
    if prefix:
        own.append("pre=" + prefix)  # و، بال، لل...
    if is_nisba_adjective(w):
        own.append("nisba")
    if verb_shape(w):
        own.append("verb")
    if len(w) >= 4 and looks_inflected(surface):
        own.append("infl")
    return own, core


def occurrences(doc: Doc, chosen: list[Cand], cands: list[Cand]) -> Occurrences:
    """The model tokens of ``doc`` (its non-empty words) and the rules' spans over them;
    ``chosen`` are the rules' (disjoint) spans, ``cands`` all the candidates proposed."""
    n = len(doc.words)
    index = [i for i, w in enumerate(doc.words) if w]
    rule = ["O"] * n
    for c in chosen:
        rule[c.start] = f"B-{c.etype}:{c.evidence}"
        for k in range(c.start + 1, c.end):
            rule[k] = f"I-{c.etype}:{c.evidence}"
    extra: list[list[str]] = [[] for _ in range(n)]
    for c in cands:
        extra[c.start].append("c=B-" + c.etype)
        for k in range(c.start + 1, c.end):
            extra[k].append("c=I-" + c.etype)
        if c.evidence == "gazetteer" and c.end - c.start > 1:
            extra[c.start].append("gm=B-" + c.etype)
            for k in range(c.start + 1, c.end):
                extra[k].append("gm=I-" + c.etype)
    words = doc.words
    text = doc.text
    first = np.array([doc.starts[i] for i in index], dtype=np.intp)
    body_first = body_positions(doc.folded, first).tolist()
    last = first + [len(words[i]) - 1 for i in index]
    body_end = (body_positions(doc.folded, last) + 1).tolist()
    surfaces = [text[a:b] for a, b in zip(body_first, body_end, strict=True)]
    # the body character of the folded space before each word
    before = body_positions(doc.folded, np.maximum(first - 1, 0)).tolist()
    gap_before = [
        k == 0 or index[k - 1] != i - 1 or text[before[k]] not in _SPACES
        for k, i in enumerate(index)
    ]
    ends: list[int] = [
        k
        for k in range(1, len(index))
        if gap_before[k] and _SENTENCE_GAP.search(text, body_end[k - 1], body_first[k])
    ]
    ends.append(len(index))
    keys: list[WordKey] = []
    for i, surface in zip(index, surfaces, strict=True):
        ent = doc.single_ent[i]
        keys.append((words[i], surface, doc.plen[i], doc.flags[i], ent[0] if ent else ""))
    return Occurrences(
        index,
        keys,
        [words[i] for i in index],
        [rule[i] for i in index],
        [extra[i] for i in index],
        gap_before,
        ends,
    )


@lru_cache(maxsize=65536)
def _is_sport_stem(word: str, plen: int) -> bool:
    return stem_of(word, plen) in SPORT_STEMS


def sport_tokens(occ: Occurrences) -> list[bool]:
    """Per token: its sentence holds a sport word."""
    cues = [_is_sport_stem(key[0], key[2]) for key in occ.keys]
    out: list[bool] = []
    first = 0
    for end in occ.sentence_ends:
        out.extend([True in cues[first:end]] * (end - first))
        first = end
    return out


def sport_features(etype: str, rule: str) -> list[str]:
    """A token's features in a sport sentence: the cue, and with the type of its listed
    one-word entity and of the rules' span (``rule`` is an ``r=`` label)."""
    out = ["ctx=sport"]
    if etype:
        out.append("ctx=sport|g=" + etype)
    if rule != "O":
        out.append("ctx=sport|r=" + rule.partition(":")[0])
    return out


def body_positions(folded: Folded, positions: np.ndarray) -> np.ndarray:
    """``Folded.body_index`` for many positions at once."""
    if folded.identity:
        return positions
    k = np.searchsorted(np.array(folded.seg_starts), positions, side="right")
    shifts = np.concatenate([[0], folded.shifts])
    return positions + shifts[k]


def token_features(occ: Occurrences) -> list[list[list[str]]]:
    """Every feature of every token as strings (what the model is trained on), one list per
    sentence: context features do not cross a sentence end."""
    types = [word_type_features(key) for key in occ.keys]
    core = [[*c, "r=" + r] for (_, c), r in zip(types, occ.rule, strict=True)]
    words = occ.words
    sport = sport_tokens(occ)
    out: list[list[list[str]]] = []
    first = 0
    for end in occ.sentence_ends:
        sentence: list[list[str]] = []
        for k in range(first, end):
            feats = ["bias", *types[k][0], *core[k], *occ.extra[k]]
            if sport[k]:
                feats.extend(sport_features(occ.keys[k][4], occ.rule[k]))
            if occ.gap_before[k]:  # always true at a sentence start
                feats.append("gapL")
            if k + 1 < end and occ.gap_before[k + 1]:
                feats.append("gapR")
            if k == first:
                feats.append("BOS")
            else:
                feats.extend("-1" + f for f in core[k - 1])
                feats.append(f"w-1|w={words[k - 1]}|{words[k]}")
                if k > first + 1:
                    feats.extend("-2" + f for f in types[k - 2][1][:NEIGHBOUR_CORE])
            if k + 1 == end:
                feats.append("EOS")
            else:
                feats.extend("+1" + f for f in core[k + 1])
                feats.append(f"w|w+1={words[k]}|{words[k + 1]}")
                if k + 2 < end:
                    feats.extend("+2" + f for f in types[k + 2][1][:NEIGHBOUR_CORE])
            sentence.append(feats)
        out.append(sentence)
        first = end
    return out
