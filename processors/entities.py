"""Named-entity extraction for Arabic news: PERS, LOC, ORG, MISC (ANERcorp's scheme).

Backend ``rules`` (default, offline, torch-free): one Aho-Corasick pass over the folded body
finds gazetteer names, given names, titles, organisation heads, place cues and stop words, all
with their proclitics; a few Arabic context patterns then turn them into spans:

* title (+ nisba adjectives) + name      الرئيس الروسي فلاديمير بوتين
* given name + name chain               محمد بن راشد آل مكتوم، غيث الطراونة
* organisation head + definite complements   وكالة الأنباء الكورية الشمالية
* place cue + unknown word              محافظة الأنبار
* a bounded memory: names found with strong evidence are recognised again later, alone
  (كيم، بوتين), in the same article and in later ones.

Backend ``camel`` wraps camel-tools' AraBERT recognizer (see ``processors.camel_ner``).
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import accumulate
from typing import Protocol

from newsflow.core.arabic import (
    CLITIC_ARTICLE_STARTS,
    Folded,
    fold,
    is_nisba_adjective,
    strip_article_clitics,
)
from newsflow.core.contract import Entity
from processors.gazetteer import (
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
    load_gazetteer,
)

_LATIN_ACRONYM_RE = re.compile(r"^[A-Z]{2,6}$")
_LATIN_UPPER_RE = re.compile(r"[A-Z]{2}")
_MEMORY_PREFIXES = ("", "و", "ف", "ب", "ل", "ك", "وب", "ول", "فب", "فل", "وك")
_ARABIC_LETTER_RE = re.compile(r"[\u0621-\u064a]")
_TANWEEN_RE = re.compile("[\u064b-\u064d]")

# Words that are a stop/structure word when the name would otherwise start there.
_NOT_NAME_START = STOP | TITLE | ORGHEAD | LOCCUE | LINK | GENADJ | ORDINAL
# Surfaces that fold onto a given name but are a preposition (على -> علي).
_PREPOSITION_SURFACES = frozenset({"على", "وعلى", "فعلى"})
# Compound place names: the first word needs the next one (رأس الخيمة، بيت لحم، أم القرى).
_PLACE_COMPOUND_HEADS = frozenset(
    {
        *("ام", "ابو", "عين", "بني", "راس", "دير", "بيت", "كفر", "تل", "جبل", "وادي", "سيدي"),
        *("شرم", "بير", "بئر", "مرج", "خان", "قصر", "حمام", "جسر", "ميناء", "سان", "سانت"),
        *("نيو", "لوس", "لاس", "سانتا", "بورت"),
    }
)

MAX_NAME_TOKENS = 6
MAX_ORG_COMPLEMENTS = 5
# Royal titles inside organisation names: جامعة الملك سعود، مطار الأمير نايف
_ROYAL_TITLES = frozenset({"الملك", "الامير", "الشيخ", "السلطان", "الملكه", "الاميره"})
# Heads that may take a bare foreign or brand name: وكالة تسنيم، شركة توتال
_MEDIA_HEADS = frozenset({"وكاله", "صحيفه", "جريده", "مجله", "قناه", "شركه", "موقع", "مجموعه"})


# Second halves of compound given names (عبد العزيز، صلاح الدين، نصر الله) and the words
# that open them: such a half alone is not the person.
_COMPOUND_SECOND = frozenset({"الدين", "الله", "الاسلام", "الرحمن", "العزيز", "الكريم"})
_COMPOUND_FIRST = frozenset({"عبد", "ابو", "ابن", "بن", "بنت", "ام", "ذو", "ذي", "ال"})


# Title words that take a name although indefinite in form.
_NAME_READY_TITLE_ENDS = frozenset({"باسم", "نظيره", "نظيرته", "نظيرها", "نظيرهم", "د"})


def _definite(word: str) -> bool:
    """Starts with the article (آل folds to ال but is a name link, hence the length)."""
    return len(word) > 3 and word.startswith("ال")


def _maximal(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Drop spans inside a longer one (المتحدث inside المتحدث باسم)."""
    out: list[tuple[int, int]] = []
    reach = -1
    # sorted by start, longest first: a span is inside another iff an earlier one reaches as far
    for span in sorted(set(spans), key=lambda s: (s[0], -s[1])):
        if span[1] > reach:
            out.append(span)
            reach = span[1]
    return out


def _verb_shape(word: str) -> bool:
    """Imperfect verb shapes: يقول، تقول، and the future سيزور، ستعقد، سنعمل."""
    if len(word) >= 4 and word[0] in "يت":
        return True
    return len(word) >= 5 and word[0] == "س" and word[1] in "يتنا"


def _looks_inflected(surface: str) -> bool:
    """Surface shapes that are ordinary inflected words, not name parts: a pronoun suffix
    (قوله، بنظيره، قولها) or a preposition glued to a hamza-initial word (بأوراق، لإجراء)."""
    if _TANWEEN_RE.search(surface):
        return True  # names never carry nunation; وزيرًا، عضوًا are inflected nouns
    if len(surface) >= 5 and surface.endswith("ا") and (surface[0] == "م" or surface[2] == "ا"):
        return True  # circumstantial participle: مضيفا، مشيرا، قائلا
    if len(surface) >= 4 and surface.endswith("ه") and surface != "الله":
        return True
    if len(surface) >= 5 and surface.endswith(("ها", "هم", "هما", "كم")):
        return True
    return len(surface) >= 4 and surface[0] in "بلك" and surface[1] in "أإآ"


_ENTITY_FIELDS = frozenset(Entity.model_fields)


def _make_entity(values: dict[str, object]) -> Entity:
    """Entity without validation: every value is built by this module from checked parts, and
    pydantic's validation (or even ``model_construct``) costs more than the rest of the work
    per entity at ~40 entities an article. Same object state as ``model_construct`` makes."""
    ent = Entity.__new__(Entity)
    object.__setattr__(ent, "__dict__", values)
    object.__setattr__(ent, "__pydantic_fields_set__", set(_ENTITY_FIELDS))
    object.__setattr__(ent, "__pydantic_extra__", None)
    object.__setattr__(ent, "__pydantic_private__", None)
    return ent


class Extractor(Protocol):
    backend: str

    def extract(self, text: str) -> list[Entity]: ...


@dataclass(frozen=True, slots=True)
class MemoryItem:
    etype: str
    canonical: str


class EntityMemory:
    """Names learned from strong evidence, recognised later on their own.

    Bounded LRU keyed by folded word: a stream runs for months, and names of the day should
    displace names nobody mentions any more. Each word is also indexed under its written
    forms with proclitics (وبوتين، لبوتين) so that lookups are set intersections."""

    def __init__(self, max_entries: int = 20_000) -> None:
        self.max_entries = max_entries
        self._items: OrderedDict[str, MemoryItem] = OrderedDict()
        self._forms: dict[str, str] = {}  # written form -> remembered word
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def get(self, key: str) -> MemoryItem | None:
        return self._items.get(key)

    def forms(self) -> Mapping[str, str]:
        """Written form (with or without proclitics) -> remembered word."""
        return self._forms

    def add(self, key: str, item: MemoryItem) -> None:
        with self._lock:
            if key not in self._items:
                for form in _MEMORY_PREFIXES:
                    self._forms.setdefault(form + key, key)
            self._items[key] = item
            self._items.move_to_end(key)
            while len(self._items) > self.max_entries:
                old, _ = self._items.popitem(last=False)
                for form in _MEMORY_PREFIXES:
                    if self._forms.get(form + old) == old:
                        del self._forms[form + old]

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._forms.clear()


@dataclass(slots=True)
class _Cand:
    start: int  # token index
    end: int  # exclusive token index
    etype: str
    canonical: str | None
    confidence: float
    evidence: str
    priority: int
    strong: bool = False


@dataclass(slots=True)
class _Doc:
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


class EntityExtractor:
    """Rule-and-gazetteer recognizer. Thread-safe for reads; memory updates are locked."""

    backend = "rules"

    def __init__(self, memory: EntityMemory | None = None, use_memory: bool = True) -> None:
        gaz = load_gazetteer()
        self.automaton = gaz.automaton
        self.stopwords = gaz.stopwords
        # stop words as listed, without a و/ف written on: فيصل is a name, not ف + يصل
        self.bare_stopwords = frozenset(
            k for k, info in gaz.keys.items() if info.flags & STOP and " " not in k
        )
        self.memory = memory if memory is not None else EntityMemory()
        self.use_memory = use_memory

    # ------------------------------------------------------------------ analysis
    def _analyse(self, text: str) -> tuple[_Doc, list[_Cand], list[tuple[int, int, int]]]:
        folded = fold(text)
        f = folded.text
        # Splitting on single spaces keeps empty words where punctuation was: an empty word
        # between two words means they are not adjacent, which the patterns rely on.
        words = f.split(" ")
        starts = list(accumulate([len(w) + 1 for w in words], initial=0))[:-1]
        n = len(words)
        index_of_start = dict(zip(starts, range(n), strict=True))
        stops = self.stopwords
        hits = stops.intersection(words)
        flags = [STOP if w in hits else 0 for w in words]
        doc = _Doc(text, folded, starts, words, flags, [0] * n, [None] * n)
        cands: list[_Cand] = []
        spans: list[tuple[int, int, int]] = []  # multi-word (start, end, flags)
        for end, val in self.automaton.iter(" " + f + " "):
            keylen, fl, etype, canonical, ntok, surface_plen, conf = val
            i = index_of_start.get(end - keylen + 1)
            if i is None:
                continue
            if ntok == 1:
                if (
                    fl & GIVEN
                    and not surface_plen
                    and flags[i] & STOP
                    and words[i] not in self.bare_stopwords
                ):
                    flags[i] &= ~STOP
                flags[i] |= fl
                if surface_plen > doc.plen[i]:
                    doc.plen[i] = surface_plen
                if etype:
                    doc.single_ent[i] = (etype, canonical, conf)
                    cands.append(_Cand(i, i + 1, etype, canonical, conf, "gazetteer", 3, True))
            else:
                # words of a multi-word key are consecutive non-empty words
                spans.append((i, i + ntok, fl))
                if etype:
                    cands.append(_Cand(i, i + ntok, etype, canonical, conf, "gazetteer", 4, True))
        return doc, cands, spans

    # ------------------------------------------------------------------ name chains
    def _name_end(self, doc: _Doc, i: int, max_unknown: int = 2) -> int:
        """Exclusive end of the person name that starts at token i (already accepted)."""
        n = len(doc.words)
        end = i + 1
        unknown = 0
        while end < n and end - i < MAX_NAME_TOKENS and doc.adjacent(end - 1):
            if doc.plen[end]:
                break  # a proclitic (وعبد، لمحمد) starts a new phrase
            fl = doc.flags[end]
            w = doc.words[end]
            if (fl & LINK and not fl & (GIVEN | NAMEPART)) or w in ("بن", "ابن", "بنت"):
                # آل الشيخ: after a link even a title word is a family name
                if (
                    end + 1 < n
                    and doc.adjacent(end)
                    and not doc.flags[end + 1] & (STOP | LOCCUE | ORGHEAD)
                ):
                    end += 2
                    continue
                break
            if fl & ORDINAL:
                end += 1
                break
            if fl & (GIVEN | NAMEPART) and not fl & (STOP | TITLE | ORGHEAD | LOCCUE):
                end += 1
                if _definite(w) and w not in _COMPOUND_SECOND:
                    unknown = max_unknown  # after a family name (العنزي) only name parts
                continue
            if fl & _NOT_NAME_START or fl & ENT:
                break
            if is_nisba_adjective(w):
                # A masculine nisba right after a name is a family name (محمد الشمري).
                if not w.endswith("يه"):
                    end += 1
                break
            if w.startswith(CLITIC_ARTICLE_STARTS) or w.startswith("و"):
                break
            if _verb_shape(w) or not _ARABIC_LETTER_RE.match(w):
                break  # present-tense verb shape, or a number / Latin word
            if _looks_inflected(doc.surface(end)):
                break
            if unknown >= max_unknown:
                break
            unknown += 1
            end += 1
        return end

    def _is_name_start(self, doc: _Doc, i: int) -> bool:
        fl = doc.flags[i]
        w = doc.words[i]
        if fl & (GIVEN | NAMEPART) and not fl & (STOP | ORDINAL | TITLE):
            return True
        if fl & _NOT_NAME_START or fl & ENT:
            return False
        if not _ARABIC_LETTER_RE.match(w) or len(w) < 2:
            return False
        if w.startswith(("ال", *CLITIC_ARTICLE_STARTS)) or _looks_inflected(doc.surface(i)):
            return False
        return not _verb_shape(w)

    def _title_names(
        self, doc: _Doc, title_ends: list[int], gaz_at: dict[int, _Cand]
    ) -> list[_Cand]:
        out: list[_Cand] = []
        n = len(doc.words)
        for t_end in title_ends:
            k = t_end
            skipped = 0
            # الرئيس الروسي، الدكتاتور الكوري الشمالي، الرئيس السابق
            while (
                k < n
                and skipped < 3
                and doc.adjacent(k - 1)
                and (is_nisba_adjective(doc.words[k]) or doc.flags[k] & GENADJ)
                and not doc.flags[k] & (GIVEN | NAMEPART)
            ):
                k += 1
                skipped += 1
            if k >= n or not doc.adjacent(k - 1):
                continue
            # رئيس وزراء إسرائيل بنيامين نتنياهو: one place name may sit between title and name
            ent = doc.single_ent[k]
            if (
                ent is not None
                and ent[0] == "LOC"
                and k + 1 < n
                and doc.adjacent(k)
                and doc.flags[k + 1] & (GIVEN | NAMEPART)
            ):
                k += 1
            known = gaz_at.get(k)
            if known is not None:
                if known.etype == "PERS":
                    known.priority = 5  # a title confirms the listed name
                continue
            if not self._is_name_start(doc, k) or doc.surface(k) in _PREPOSITION_SURFACES:
                continue
            # an unknown first word may take one more (فاتن حمامة); a known given name two
            known_start = bool(doc.flags[k] & (GIVEN | NAMEPART))
            end = self._name_end(doc, k, max_unknown=2 if known_start else 1)
            out.append(_Cand(k, end, "PERS", None, 0.85, "pattern", 5, True))
        return out

    def _given_names(self, doc: _Doc) -> list[_Cand]:
        out: list[_Cand] = []
        resume = 0
        for i in [i for i, fl in enumerate(doc.flags) if fl & GIVEN]:
            if i < resume:
                continue  # inside the previous name
            fl = doc.flags[i]
            if fl & (STOP | TITLE) or doc.single_ent[i] is not None:
                continue
            if doc.surface(i) in _PREPOSITION_SURFACES:
                continue
            end = self._name_end(doc, i, max_unknown=1)
            strong_follow = end > i + 1 and bool(
                doc.flags[i + 1] & (GIVEN | NAMEPART | LINK) or doc.single_ent[i + 1]
            )
            if (fl & AMBIG or (fl & LINK and end == i + 1)) and not strong_follow:
                continue  # حسن / عبد alone are words, not names
            conf = 0.8 if strong_follow else (0.65 if end > i + 1 else 0.55)
            out.append(_Cand(i, end, "PERS", None, conf, "pattern", 3, strong_follow))
            resume = end
        return out

    def _extend_listed_names(self, doc: _Doc, cands: list[_Cand]) -> None:
        """A listed name may go on with a chain the list lacks (تميم بن حمد + آل ثاني)."""
        n = len(doc.words)
        for c in cands:
            if (
                c.etype == "PERS"
                and c.end < n
                and doc.flags[c.end] & LINK
                and doc.adjacent(c.end - 1)
            ):
                end = self._name_end(doc, c.end - 1, max_unknown=0)
                if end > c.end:
                    c.end, c.canonical = end, None

    @staticmethod
    def _extend_listed_orgs(doc: _Doc, cands: list[_Cand]) -> None:
        """A listed organisation takes the nisba adjectives that follow it, as an organisation
        head's complements do: مجلس النواب الأردني، حزب العمال البريطاني."""
        n = len(doc.words)
        for c in cands:
            if c.etype != "ORG" or c.end - c.start < 2:
                continue
            end = c.end
            while (
                end < n
                and end - c.end < 2
                and doc.adjacent(end - 1)
                and is_nisba_adjective(doc.words[end])
                and not doc.flags[end] & (GENADJ | NAMEPART | GIVEN)
                and doc.single_ent[end] is None
            ):
                end += 1
            if end > c.end:
                c.end, c.canonical = end, None

    def _org_heads(
        self, doc: _Doc, head_spans: list[tuple[int, int]], gaz_at: dict[int, _Cand]
    ) -> list[_Cand]:
        out: list[_Cand] = []
        n = len(doc.words)
        for hs, he in head_spans:
            w0 = doc.words[hs]
            if w0.startswith(CLITIC_ARTICLE_STARTS) or w0.startswith("ال"):
                continue  # الوزارة: a definite head is a common noun
            listed = gaz_at.get(hs)
            if listed is not None and listed.end > he:
                continue  # the list knows this organisation's extent
            if he < n and he in gaz_at and gaz_at[he].etype == "ORG" and doc.adjacent(he - 1):
                continue  # صحيفة نيويورك تايمز: the listed name alone is the entity
            end = he
            comps = 0
            closed = False  # after an adjective or a proper name only adjectives may follow
            royal = False
            while end < n and comps < MAX_ORG_COMPLEMENTS and doc.adjacent(end - 1):
                w = doc.words[end]
                fl = doc.flags[end]
                ent = doc.single_ent[end]
                if fl & GENADJ:
                    break
                if is_nisba_adjective(w):
                    # first complement: a noun in -iyya (التربية، الخارجية); later: adjective
                    end, comps, closed = end + 1, comps + 1, comps > 0
                    continue
                if closed:
                    break
                if fl & TITLE and w in _ROYAL_TITLES and end + 1 < n and doc.adjacent(end):
                    # جامعة الملك سعود، مستشفى الملك فيصل التخصصي
                    if self._is_name_start(doc, end + 1):
                        royal = True
                        end = self._name_end(doc, end + 1, max_unknown=1)
                        comps += 1
                        closed = True
                        continue
                    break
                if fl & (TITLE | LINK):
                    break
                if ent is not None and ent[0] in ("LOC", "ORG") and not _definite(w):
                    end, comps, closed = end + 1, comps + 1, True
                    continue
                if _definite(w):
                    end, comps = end + 1, comps + 1
                    continue
                if comps and w.startswith("وال"):
                    end, comps = end + 1, comps + 1  # وزارة التربية والتعليم
                    continue
                if (
                    not comps
                    and doc.words[he - 1] in _MEDIA_HEADS
                    and self._is_name_start(doc, end)
                    and not fl
                ):
                    end, comps, closed = end + 1, comps + 1, True  # وكالة تسنيم، شركة توتال
                    continue
                break
            if comps:
                # a royal name inside wins over the title+name reading (جامعة الملك سعود)
                prio = 6 if royal else 4
                out.append(_Cand(hs, end, "ORG", None, 0.75, "pattern", prio, True))
        return out

    def _loc_cues(self, doc: _Doc, cue_ends: list[int]) -> list[_Cand]:
        out: list[_Cand] = []
        n = len(doc.words)
        for k in cue_ends:
            if k >= n or not doc.adjacent(k - 1):
                continue
            cue = doc.words[k - 1]
            definite_cue = cue.startswith("ال") or cue.startswith(CLITIC_ARTICLE_STARTS)
            w = doc.words[k]
            if is_nisba_adjective(w):
                nxt = k + 1 < n and doc.adjacent(k)
                if nxt and (doc.single_ent[k + 1] is not None or not doc.flags[k + 1]):
                    k += 1  # العاصمة الروسية موسكو
                    w = doc.words[k]
                elif definite_cue or w.endswith("يه"):
                    continue  # المدينة العراقية: an adjective, not a name
            fl = doc.flags[k]
            if fl & (_NOT_NAME_START | GIVEN) or doc.single_ent[k] is not None:
                continue
            if w.startswith(CLITIC_ARTICLE_STARTS) or _looks_inflected(doc.surface(k)):
                continue
            if not _ARABIC_LETTER_RE.match(w) or len(w) < 3:
                continue
            if is_nisba_adjective(w) and (definite_cue or w.endswith("يه")):
                continue
            end = k + 1
            if w in _PLACE_COMPOUND_HEADS and end < n and doc.adjacent(k):
                end += 1
            out.append(_Cand(k, end, "LOC", None, 0.7, "pattern", 2, True))
        return out

    def _acronyms(self, doc: _Doc) -> list[_Cand]:
        out: list[_Cand] = []
        if _LATIN_UPPER_RE.search(doc.text) is None:
            return out
        for i, w in enumerate(doc.words):
            if doc.flags[i] or not w.isascii() or not 2 <= len(w) <= 6:
                continue
            if _LATIN_ACRONYM_RE.match(doc.surface(i)):
                out.append(_Cand(i, i + 1, "ORG", None, 0.5, "pattern", 1))
        return out

    # ------------------------------------------------------------------ memory
    def _memory_cands(self, doc: _Doc, taken: list[bool]) -> list[_Cand]:
        out: list[_Cand] = []
        if not len(self.memory):
            return out
        forms = self.memory.forms()
        # a C-level set intersection first: only words memory knows reach the loop below
        known = forms.keys() & set(doc.words)
        if not known:
            return out
        for i in [i for i, w in enumerate(doc.words) if w in known]:
            w = doc.words[i]
            if taken[i] or doc.flags[i] & ~NAMEPART:
                continue
            key = forms[w]
            item = self.memory.get(key)
            if item is None:
                continue
            end = i + 1
            if item.etype == "PERS":
                # the remembered full name, when it follows in the same order
                parts = item.canonical.split()
                if key in parts:
                    p = parts.index(key)
                    while (
                        end < len(doc.words)
                        and p + (end - i) < len(parts)
                        and doc.adjacent(end - 1)
                        and doc.words[end] == parts[p + (end - i)]
                        and not taken[end]
                    ):
                        end += 1
            doc.plen[i] = max(doc.plen[i], len(w) - len(key))
            out.append(_Cand(i, end, item.etype, item.canonical, 0.7, "memory", 2, False))
        return out

    def _remember(self, doc: _Doc, chosen: list[_Cand]) -> None:
        """Learn the parts of person names found with strong evidence.

        Only persons, and only from a listed name, a title + name, or a given name + a clear
        name part: a remembered word is later taken alone, so a wrong entry (محمد كتب ->
        «كتب») would repeat its error in every later article."""
        for c in chosen:
            if c.etype != "PERS" or not c.strong or c.evidence == "memory":
                continue
            listed = c.evidence == "gazetteer"
            if not listed and c.end - c.start < 2:
                continue
            canonical = c.canonical or self._canonical(doc, c)
            parts = canonical.split()
            for k, part in enumerate(parts):
                tok = c.start + k
                fl = doc.flags[tok] if tok < c.end and len(parts) == c.end - c.start else 0
                prev = parts[k - 1] if k else ""
                if (
                    (not listed and k != len(parts) - 1)
                    or len(part) < (3 if listed else 4)
                    or fl & (STOP | LINK | GIVEN | TITLE | ORDINAL | ENT | GENADJ)
                    or part.startswith(CLITIC_ARTICLE_STARTS)
                    or is_nisba_adjective(part)
                    or part in _COMPOUND_SECOND
                    or prev in _COMPOUND_FIRST
                    or (_definite(part) and k != len(parts) - 1)
                ):
                    continue
                self.memory.add(part, MemoryItem("PERS", canonical))

    # ------------------------------------------------------------------ output
    def _canonical(self, doc: _Doc, c: _Cand) -> str:
        first = doc.words[c.start]
        plen = doc.plen[c.start]
        first = first[plen:] if plen else strip_article_clitics(first)
        return " ".join([first, *doc.words[c.start + 1 : c.end]])

    def extract(self, text: str) -> list[Entity]:
        if not text:
            return []
        doc, cands, spans = self._analyse(text)
        n = len(doc.words)
        marks: dict[int, list[tuple[int, int]]] = {TITLE: [], ORGHEAD: [], LOCCUE: []}
        for i, fl in enumerate(doc.flags):
            if fl & (TITLE | ORGHEAD | LOCCUE):
                for flag, found in marks.items():
                    if fl & flag:
                        found.append((i, i + 1))
        for s, e, fl in spans:
            for flag, found in marks.items():
                if fl & flag:
                    found.append((s, e))
        titles, heads, cues = (_maximal(marks[f]) for f in (TITLE, ORGHEAD, LOCCUE))
        # an organisation head inside a role (رئيس مجلس الوزراء) is part of the role
        in_title = {k for s, e in titles if e - s > 1 for k in range(s, e)}
        heads = [h for h in heads if h[0] not in in_title]

        cands = [c for c in cands if not self._is_adjective_use(doc, c)]
        self._extend_listed_names(doc, cands)
        self._extend_listed_orgs(doc, cands)
        gaz_at: dict[int, _Cand] = {}
        for c in cands:
            if c.start not in gaz_at or c.end > gaz_at[c.start].end:
                gaz_at[c.start] = c
        # رئيس الاتحاد + السعودي لكرة القدم: a role that runs into a listed name is cut short
        # A name follows a definite role directly (الرئيس بوتين، وزير الخارجية لافروف); after an
        # indefinite one (رئيس، مدير) comes its genitive complement, not a name.
        # a role word inside a listed organisation name is part of it (جامعة الملك سعود)
        in_listed = {
            k
            for c in cands
            if c.etype != "PERS" and c.end - c.start > 1
            for k in range(c.start + 1, c.end)
        }
        title_ends = [
            e
            for s, e in titles
            if _definite(doc.words[e - 1]) or doc.words[e - 1] in _NAME_READY_TITLE_ENDS
            if s not in in_listed
            if not any(
                (g := gaz_at.get(k)) is not None and g.end > e and g.etype != "PERS"
                for k in range(s + 1, e)
            )
        ]
        org_cands = self._org_heads(doc, heads, gaz_at)
        # role + organisation + name: المتحدث باسم الخارجية الإيرانية ناصر كنعاني،
        # محافظ البنك المركزي المصري حسن عبد الله
        if titles:
            org_end: dict[int, int] = {}
            for c in (*cands, *org_cands):
                if c.etype == "ORG" and c.end > org_end.get(c.start, 0):
                    org_end[c.start] = c.end
            for _, e in titles:
                oe = org_end.get(e)
                if oe is not None and oe < n and doc.adjacent(e - 1) and doc.adjacent(oe - 1):
                    title_ends.append(oe)
        cands.extend(self._title_names(doc, title_ends, gaz_at))
        cands.extend(self._given_names(doc))
        cands.extend(org_cands)
        cands.extend(self._loc_cues(doc, [e for _, e in cues]))
        cands.extend(self._acronyms(doc))

        taken = [False] * n
        chosen = self._select(cands, taken)
        if self.use_memory:
            self._remember(doc, chosen)
            chosen.extend(self._select(self._memory_cands(doc, taken), taken))
        chosen.sort(key=lambda c: c.start)
        return [self._entity(doc, c) for c in chosen]

    @staticmethod
    def _is_adjective_use(doc: _Doc, c: _Cand) -> bool:
        """السوق السعودية: a nisba-shaped country name right after a definite noun is the
        adjective (Saudi), not the country."""
        if c.end - c.start != 1 or c.etype != "LOC" or c.start == 0:
            return False
        w = doc.words[c.start]
        prev = doc.words[c.start - 1]
        return (
            is_nisba_adjective(w)
            and doc.plen[c.start] == 0
            and (prev.startswith("ال") or prev.startswith(CLITIC_ARTICLE_STARTS))
            and doc.adjacent(c.start - 1)
        )

    @staticmethod
    def _select(cands: list[_Cand], taken: list[bool]) -> list[_Cand]:
        chosen: list[_Cand] = []
        for c in sorted(cands, key=lambda c: (-c.priority, c.start - c.end, c.start)):
            if any(taken[c.start : c.end]):
                continue
            for k in range(c.start, c.end):
                taken[k] = True
            chosen.append(c)
        return chosen

    def _entity(self, doc: _Doc, c: _Cand) -> Entity:
        start, end = doc.body_span(c.start, c.end)
        plen = doc.plen[c.start]
        if plen:
            start = doc.folded.body_index(doc.starts[c.start] + plen)
        canonical = c.canonical or self._canonical(doc, c)
        return _make_entity(
            {
                "type": c.etype,
                "text": doc.text[start:end],
                "canonical": canonical,
                "start": start,
                "end": end,
                "confidence": round(c.confidence, 3),
                "evidence": c.evidence,
            }
        )


_EXTRACTORS: dict[str, Extractor] = {}
_LOCK = threading.Lock()


def get_extractor(backend: str = "rules") -> Extractor:
    """Process-wide extractor for a backend, built on first use."""
    with _LOCK:
        ex = _EXTRACTORS.get(backend)
        if ex is None:
            ex = make_extractor(backend)
            _EXTRACTORS[backend] = ex
        return ex


def make_extractor(backend: str = "rules") -> Extractor:
    """A new extractor (own memory) for a backend: ``rules`` or ``camel``."""
    if backend == "rules":
        return EntityExtractor()
    if backend == "camel":
        from processors.camel_ner import CamelEntityExtractor

        return CamelEntityExtractor()
    raise ValueError(f"unknown NER backend {backend!r}: use 'rules' or 'camel'")
