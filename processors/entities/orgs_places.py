"""Organisation and place patterns: organisation head + definite complements, place cue +
unknown word, Latin acronyms, and the nisba reading of a country name (السوق السعودية)."""

from __future__ import annotations

from newsflow.core.arabic import CLITIC_ARTICLE_STARTS, is_nisba_adjective
from processors.entities.document import (
    ARABIC_LETTER_RE,
    LATIN_ACRONYM_RE,
    LATIN_UPPER_RE,
    MAX_ORG_COMPLEMENTS,
    MEDIA_HEADS,
    NOT_NAME_START,
    PLACE_COMPOUND_HEADS,
    ROYAL_TITLES,
    Cand,
    Doc,
    definite,
    looks_inflected,
)
from processors.entities.gazetteer import GENADJ, GIVEN, LINK, NAMEPART, TITLE
from processors.entities.persons import is_name_start, name_end


def extend_listed_orgs(doc: Doc, cands: list[Cand]) -> None:
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


def org_complements(doc: Doc, he: int) -> tuple[int, int, bool]:
    """Walk the complements after an organisation head ending at ``he``: (end, number of
    complements, whether a royal name is among them)."""
    n = len(doc.words)
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
        if fl & TITLE and w in ROYAL_TITLES and end + 1 < n and doc.adjacent(end):
            # جامعة الملك سعود، مستشفى الملك فيصل التخصصي
            if is_name_start(doc, end + 1):
                royal = True
                end = name_end(doc, end + 1, max_unknown=1)
                comps += 1
                closed = True
                continue
            break
        if fl & (TITLE | LINK):
            break
        if ent is not None and ent[0] in ("LOC", "ORG") and not definite(w):
            end, comps, closed = end + 1, comps + 1, True
            continue
        if definite(w):
            end, comps = end + 1, comps + 1
            continue
        if comps and w.startswith("وال"):
            end, comps = end + 1, comps + 1  # وزارة التربية والتعليم
            continue
        if not comps and doc.words[he - 1] in MEDIA_HEADS and is_name_start(doc, end) and not fl:
            end, comps, closed = end + 1, comps + 1, True  # وكالة تسنيم، شركة توتال
            continue
        break
    return end, comps, royal


def org_heads(doc: Doc, head_spans: list[tuple[int, int]], gaz_at: dict[int, Cand]) -> list[Cand]:
    out: list[Cand] = []
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
        end, comps, royal = org_complements(doc, he)
        if comps:
            # a royal name inside wins over the title+name reading (جامعة الملك سعود)
            prio = 6 if royal else 4
            out.append(Cand(hs, end, "ORG", None, 0.75, "pattern", prio, True))
    return out


def loc_cues(doc: Doc, cue_ends: list[int]) -> list[Cand]:
    out: list[Cand] = []
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
        if fl & (NOT_NAME_START | GIVEN) or doc.single_ent[k] is not None:
            continue
        if w.startswith(CLITIC_ARTICLE_STARTS) or looks_inflected(doc.surface(k)):
            continue
        if not ARABIC_LETTER_RE.match(w) or len(w) < 3:
            continue
        if is_nisba_adjective(w) and (definite_cue or w.endswith("يه")):
            continue
        end = k + 1
        if w in PLACE_COMPOUND_HEADS and end < n and doc.adjacent(k):
            end += 1
        out.append(Cand(k, end, "LOC", None, 0.7, "pattern", 2, True))
    return out


def acronyms(doc: Doc) -> list[Cand]:
    out: list[Cand] = []
    if LATIN_UPPER_RE.search(doc.text) is None:
        return out
    for i, w in enumerate(doc.words):
        if doc.flags[i] or not w.isascii() or not 2 <= len(w) <= 6:
            continue
        if LATIN_ACRONYM_RE.match(doc.surface(i)):
            out.append(Cand(i, i + 1, "ORG", None, 0.5, "pattern", 1))
    return out


def is_adjective_use(doc: Doc, c: Cand) -> bool:
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
