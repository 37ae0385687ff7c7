"""One text as the rules see it: folded words, their word-class flags, and the small word
predicates the patterns share (also the token layer the CRF backend reads its features from)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from itertools import accumulate

import ahocorasick

from newsflow.core.arabic import Folded, fold, strip_article_clitics
from newsflow.core.contract import Entity
from processors.entities.gazetteer import (
    GENADJ,
    GIVEN,
    LINK,
    LOCCUE,
    ORDINAL,
    ORGHEAD,
    STOP,
    TITLE,
    load_gazetteer,
)

LATIN_ACRONYM_RE = re.compile(r"^[A-Z]{2,6}$")
LATIN_UPPER_RE = re.compile(r"[A-Z]{2}")
ARABIC_LETTER_RE = re.compile(r"[\u0621-\u064a]")
TANWEEN_RE = re.compile("[\u064b-\u064d]")

# Words that are a stop/structure word when the name would otherwise start there.
NOT_NAME_START = STOP | TITLE | ORGHEAD | LOCCUE | LINK | GENADJ | ORDINAL
# Surfaces that fold onto a given name but are a preposition (على -> علي).
PREPOSITION_SURFACES = frozenset({"على", "وعلى", "فعلى"})
# Compound place names: the first word needs the next one (رأس الخيمة، بيت لحم، أم القرى).
PLACE_COMPOUND_HEADS = frozenset(
    {
        *("ام", "ابو", "عين", "بني", "راس", "دير", "بيت", "كفر", "تل", "جبل", "وادي", "سيدي"),
        *("شرم", "بير", "بئر", "مرج", "خان", "قصر", "حمام", "جسر", "ميناء", "سان", "سانت"),
        *("نيو", "لوس", "لاس", "سانتا", "بورت"),
    }
)

MAX_NAME_TOKENS = 6
MAX_ORG_COMPLEMENTS = 5
# Royal titles inside organisation names: جامعة الملك سعود، مطار الأمير نايف
ROYAL_TITLES = frozenset({"الملك", "الامير", "الشيخ", "السلطان", "الملكه", "الاميره"})
# Heads that may take a bare foreign or brand name: وكالة تسنيم، شركة توتال
MEDIA_HEADS = frozenset({"وكاله", "صحيفه", "جريده", "مجله", "قناه", "شركه", "موقع", "مجموعه"})


# Second halves of compound given names (عبد العزيز، صلاح الدين، نصر الله) and the words
# that open them: such a half alone is not the person.
COMPOUND_SECOND = frozenset({"الدين", "الله", "الاسلام", "الرحمن", "العزيز", "الكريم"})
COMPOUND_FIRST = frozenset({"عبد", "ابو", "ابن", "بن", "بنت", "ام", "ذو", "ذي", "ال"})


# Title words that take a name although indefinite in form.
NAME_READY_TITLE_ENDS = frozenset({"باسم", "نظيره", "نظيرته", "نظيرها", "نظيرهم", "د"})


def definite(word: str) -> bool:
    """Starts with the article (آل folds to ال but is a name link, hence the length)."""
    return len(word) > 3 and word.startswith("ال")


def maximal(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Drop spans inside a longer one (المتحدث inside المتحدث باسم)."""
    out: list[tuple[int, int]] = []
    reach = -1
    # sorted by start, longest first: a span is inside another iff an earlier one reaches as far
    for span in sorted(set(spans), key=lambda s: (s[0], -s[1])):
        if span[1] > reach:
            out.append(span)
            reach = span[1]
    return out


def verb_shape(word: str) -> bool:
    """Imperfect verb shapes: يقول، تقول، and the future سيزور، ستعقد، سنعمل."""
    if len(word) >= 4 and word[0] in "يت":
        return True
    return len(word) >= 5 and word[0] == "س" and word[1] in "يتنا"


def looks_inflected(surface: str) -> bool:
    """Surface shapes that are ordinary inflected words, not name parts: a pronoun suffix
    (قوله، بنظيره، قولها) or a preposition glued to a hamza-initial word (بأوراق، لإجراء)."""
    if TANWEEN_RE.search(surface):
        return True  # names never carry nunation; وزيرًا، عضوًا are inflected nouns
    if len(surface) >= 5 and surface.endswith("ا") and (surface[0] == "م" or surface[2] == "ا"):
        return True  # circumstantial participle: مضيفا، مشيرا، قائلا
    if len(surface) >= 4 and surface.endswith("ه") and surface != "الله":
        return True
    if len(surface) >= 5 and surface.endswith(("ها", "هم", "هما", "كم")):
        return True
    return len(surface) >= 4 and surface[0] in "بلك" and surface[1] in "أإآ"


ENTITY_FIELDS = frozenset(Entity.model_fields)


def make_entity(values: dict[str, object]) -> Entity:
    """Entity without validation: every value is built by this module from checked parts, and
    pydantic's validation (or even ``model_construct``) costs more than the rest of the work
    per entity at ~40 entities an article. Same object state as ``model_construct`` makes."""
    ent = Entity.__new__(Entity)
    object.__setattr__(ent, "__dict__", values)
    object.__setattr__(ent, "__pydantic_fields_set__", set(ENTITY_FIELDS))
    object.__setattr__(ent, "__pydantic_extra__", None)
    object.__setattr__(ent, "__pydantic_private__", None)
    return ent


@dataclass(slots=True)
class Cand:
    start: int  # token index
    end: int  # exclusive token index
    etype: str
    canonical: str | None
    confidence: float
    evidence: str
    priority: int
    strong: bool = False


@dataclass(slots=True)
class Doc:
    """One text being processed: folded form, words (empty where punctuation was) and what
    the automaton said about them."""

    text: str
    folded: Folded
    starts: list[int]
    words: list[str]
    flags: list[int]
    plen: list[int]  # proclitic length of a word's own single-word match
    single_ent: list[tuple[str, str, float] | None]

    def adjacent(self, i: int) -> bool:
        """Word i and i+1 are separated by whitespace only (no comma, quote, newline)."""
        if i + 1 >= len(self.words) or not self.words[i] or not self.words[i + 1]:
            return False
        return self.text[self.folded.body_index(self.starts[i + 1] - 1)] in " \t\u00a0"

    def surface(self, i: int) -> str:
        a, b = self.body_span(i, i + 1)
        return self.text[a:b]

    def body_span(self, i: int, j: int) -> tuple[int, int]:
        return self.folded.to_body(self.starts[i], self.starts[j - 1] + len(self.words[j - 1]))


@dataclass(frozen=True, slots=True)
class Lexicon:
    """What ``analyse`` needs from the gazetteer."""

    automaton: ahocorasick.Automaton
    stopwords: frozenset[str]
    # stop words as listed, without a و/ف written on: فيصل is a name, not ف + يصل
    bare_stopwords: frozenset[str]


@lru_cache(maxsize=1)
def load_lexicon() -> Lexicon:
    gaz = load_gazetteer()
    bare = frozenset(k for k, info in gaz.keys.items() if info.flags & STOP and " " not in k)
    return Lexicon(gaz.automaton, gaz.stopwords, bare)


def analyse(lexicon: Lexicon, text: str) -> tuple[Doc, list[Cand], list[tuple[int, int, int]]]:
    """Fold ``text``, split it into words and run the automaton once: the document, the
    gazetteer candidates and the multi-word keys found (start, end, flags)."""
    folded = fold(text)
    f = folded.text
    # Splitting on single spaces keeps empty words where punctuation was: an empty word
    # between two words means they are not adjacent, which the patterns rely on.
    words = f.split(" ")
    starts = list(accumulate([len(w) + 1 for w in words], initial=0))[:-1]
    n = len(words)
    index_of_start = dict(zip(starts, range(n), strict=True))
    stops = lexicon.stopwords
    hits = stops.intersection(words)
    flags = [STOP if w in hits else 0 for w in words]
    doc = Doc(text, folded, starts, words, flags, [0] * n, [None] * n)
    cands: list[Cand] = []
    spans: list[tuple[int, int, int]] = []  # multi-word (start, end, flags)
    for end, val in lexicon.automaton.iter(" " + f + " "):
        keylen, fl, etype, canonical, ntok, surface_plen, conf = val
        i = index_of_start.get(end - keylen + 1)
        if i is None:
            continue
        if ntok == 1:
            if (
                fl & GIVEN
                and not surface_plen
                and flags[i] & STOP
                and words[i] not in lexicon.bare_stopwords
            ):
                flags[i] &= ~STOP
            flags[i] |= fl
            if surface_plen > doc.plen[i]:
                doc.plen[i] = surface_plen
            if etype:
                doc.single_ent[i] = (etype, canonical, conf)
                cands.append(Cand(i, i + 1, etype, canonical, conf, "gazetteer", 3, True))
        else:
            # words of a multi-word key are consecutive non-empty words
            spans.append((i, i + ntok, fl))
            if etype:
                cands.append(Cand(i, i + ntok, etype, canonical, conf, "gazetteer", 4, True))
    return doc, cands, spans


def canonical_form(doc: Doc, c: Cand) -> str:
    first = doc.words[c.start]
    plen = doc.plen[c.start]
    first = first[plen:] if plen else strip_article_clitics(first)
    return " ".join([first, *doc.words[c.start + 1 : c.end]])
