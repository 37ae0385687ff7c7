"""Backend ``rules``: the gazetteer automaton's hits turned into spans by Arabic context patterns
(see the package docstring), then a bounded memory of names found with strong evidence."""

from __future__ import annotations

from newsflow.core.arabic_segment import display_form
from newsflow.core.contract import Entity
from processors.entities.document import (
    NAME_READY_TITLE_ENDS,
    Cand,
    Doc,
    analyse,
    canonical_form,
    definite,
    load_lexicon,
    make_entity,
    maximal,
)
from processors.entities.gazetteer import LOCCUE, ORGHEAD, TITLE
from processors.entities.memory import EntityMemory, memory_cands, remember
from processors.entities.orgs_places import (
    acronyms,
    extend_listed_orgs,
    is_adjective_use,
    loc_cues,
    org_heads,
)
from processors.entities.persons import extend_listed_names, given_names, title_names

Marks = list[tuple[int, int]]


def role_marks(doc: Doc, spans: list[tuple[int, int, int]]) -> tuple[Marks, Marks, Marks]:
    """Maximal spans of titles, organisation heads and place cues (one word or several)."""
    marks: dict[int, Marks] = {TITLE: [], ORGHEAD: [], LOCCUE: []}
    for i, fl in enumerate(doc.flags):
        if fl & (TITLE | ORGHEAD | LOCCUE):
            for flag, found in marks.items():
                if fl & flag:
                    found.append((i, i + 1))
    for s, e, fl in spans:
        for flag, found in marks.items():
            if fl & flag:
                found.append((s, e))
    titles, heads, cues = (maximal(marks[f]) for f in (TITLE, ORGHEAD, LOCCUE))
    # an organisation head inside a role (رئيس مجلس الوزراء) is part of the role
    in_title = {k for s, e in titles if e - s > 1 for k in range(s, e)}
    heads = [h for h in heads if h[0] not in in_title]
    return titles, heads, cues


def title_name_starts(
    doc: Doc, titles: Marks, cands: list[Cand], org_cands: list[Cand], gaz_at: dict[int, Cand]
) -> list[int]:
    """Token indexes where a name may follow a role."""
    # A name follows a definite role directly (الرئيس بوتين، وزير الخارجية لافروف); after an
    # indefinite one (رئيس، مدير) comes its genitive complement, not a name.
    # a role word inside a listed organisation name is part of it (جامعة الملك سعود)
    in_listed = {
        k
        for c in cands
        if c.etype != "PERS" and c.end - c.start > 1
        for k in range(c.start + 1, c.end)
    }
    # رئيس الاتحاد + السعودي لكرة القدم: a role that runs into a listed name is cut short
    title_ends = [
        e
        for s, e in titles
        if definite(doc.words[e - 1]) or doc.words[e - 1] in NAME_READY_TITLE_ENDS
        if s not in in_listed
        if not any(
            (g := gaz_at.get(k)) is not None and g.end > e and g.etype != "PERS"
            for k in range(s + 1, e)
        )
    ]
    # role + organisation + name: المتحدث باسم الخارجية الإيرانية ناصر كنعاني،
    # محافظ البنك المركزي المصري حسن عبد الله
    if titles:
        n = len(doc.words)
        org_end: dict[int, int] = {}
        for c in (*cands, *org_cands):
            if c.etype == "ORG" and c.end > org_end.get(c.start, 0):
                org_end[c.start] = c.end
        for _, e in titles:
            oe = org_end.get(e)
            if oe is not None and oe < n and doc.adjacent(e - 1) and doc.adjacent(oe - 1):
                title_ends.append(oe)
    return title_ends


def pattern_candidates(
    doc: Doc, cands: list[Cand], spans: list[tuple[int, int, int]]
) -> list[Cand]:
    """Gazetteer candidates (adjusted) plus every pattern's candidates, overlapping."""
    titles, heads, cues = role_marks(doc, spans)
    cands = [c for c in cands if not is_adjective_use(doc, c)]
    extend_listed_names(doc, cands)
    extend_listed_orgs(doc, cands)
    gaz_at: dict[int, Cand] = {}
    for c in cands:
        if c.start not in gaz_at or c.end > gaz_at[c.start].end:
            gaz_at[c.start] = c
    org_cands = org_heads(doc, heads, gaz_at)
    title_ends = title_name_starts(doc, titles, cands, org_cands, gaz_at)
    cands.extend(title_names(doc, title_ends, gaz_at))
    cands.extend(given_names(doc))
    cands.extend(org_cands)
    cands.extend(loc_cues(doc, [e for _, e in cues]))
    cands.extend(acronyms(doc))
    return cands


def select(cands: list[Cand], taken: list[bool]) -> list[Cand]:
    """Non-overlapping candidates: higher priority first, then longer, then earlier."""
    chosen: list[Cand] = []
    for c in sorted(cands, key=lambda c: (-c.priority, c.start - c.end, c.start)):
        if any(taken[c.start : c.end]):
            continue
        for k in range(c.start, c.end):
            taken[k] = True
        chosen.append(c)
    return chosen


def to_entity(doc: Doc, c: Cand) -> Entity:
    """The output contract: exact body offsets (proclitic cut off when the list allowed it)."""
    start, end = doc.body_span(c.start, c.end)
    plen = doc.plen[c.start]
    if plen:
        start = doc.folded.body_index(doc.starts[c.start] + plen)
    canonical = c.canonical or canonical_form(doc, c)
    return make_entity(
        {
            "type": c.etype,
            "text": doc.text[start:end],
            "canonical": canonical,
            "display": display_form(doc.text[start:end], canonical),
            "start": start,
            "end": end,
            "confidence": round(c.confidence, 3),
            "evidence": c.evidence,
        }
    )


class EntityExtractor:
    """Rule-and-gazetteer recognizer. Thread-safe for reads; memory updates are locked."""

    backend = "rules"

    def __init__(self, memory: EntityMemory | None = None, use_memory: bool = True) -> None:
        self.lexicon = load_lexicon()
        self.memory = memory if memory is not None else EntityMemory()
        self.use_memory = use_memory

    def analyse(self, text: str) -> tuple[Doc, list[Cand], list[Cand]]:
        """The document, every candidate the patterns proposed, and the chosen (disjoint,
        sorted) ones; updates the memory."""
        doc, listed, spans = analyse(self.lexicon, text)
        cands = pattern_candidates(doc, listed, spans)
        taken = [False] * len(doc.words)
        chosen = select(cands, taken)
        if self.use_memory:
            remember(self.memory, doc, chosen)
            chosen.extend(select(memory_cands(self.memory, doc, taken), taken))
        chosen.sort(key=lambda c: c.start)
        return doc, cands, chosen

    def extract(self, text: str) -> list[Entity]:
        if not text:
            return []
        doc, _, chosen = self.analyse(text)
        return [to_entity(doc, c) for c in chosen]
