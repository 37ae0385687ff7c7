"""The rules backend's memory: person names found with strong evidence are recognised again
later on their own (كيم، بوتين), in the same article and in later ones."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass

from newsflow.core.arabic import CLITIC_ARTICLE_STARTS, is_nisba_adjective
from processors.entities.document import (
    COMPOUND_FIRST,
    COMPOUND_SECOND,
    Cand,
    Doc,
    canonical_form,
    definite,
)
from processors.entities.gazetteer import (
    ENT,
    GENADJ,
    GIVEN,
    LINK,
    NAMEPART,
    ORDINAL,
    STOP,
    TITLE,
)

MEMORY_PREFIXES = ("", "و", "ف", "ب", "ل", "ك", "وب", "ول", "فب", "فل", "وك")


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
                for form in MEMORY_PREFIXES:
                    self._forms.setdefault(form + key, key)
            self._items[key] = item
            self._items.move_to_end(key)
            while len(self._items) > self.max_entries:
                old, _ = self._items.popitem(last=False)
                for form in MEMORY_PREFIXES:
                    if self._forms.get(form + old) == old:
                        del self._forms[form + old]

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._forms.clear()


def memory_cands(memory: EntityMemory, doc: Doc, taken: list[bool]) -> list[Cand]:
    out: list[Cand] = []
    if not len(memory):
        return out
    forms = memory.forms()
    # a C-level set intersection first: only words memory knows reach the loop below
    known = forms.keys() & set(doc.words)
    if not known:
        return out
    for i in [i for i, w in enumerate(doc.words) if w in known]:
        w = doc.words[i]
        if taken[i] or doc.flags[i] & ~NAMEPART:
            continue
        key = forms[w]
        item = memory.get(key)
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
        out.append(Cand(i, end, item.etype, item.canonical, 0.7, "memory", 2, False))
    return out


def remember(memory: EntityMemory, doc: Doc, chosen: list[Cand]) -> None:
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
        canonical = c.canonical or canonical_form(doc, c)
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
                or part in COMPOUND_SECOND
                or prev in COMPOUND_FIRST
                or (definite(part) and k != len(parts) - 1)
            ):
                continue
            memory.add(part, MemoryItem("PERS", canonical))
