"""Person-name patterns: title (+ nisba adjectives) + name, given name + name chain, and a
listed name going on with a chain the list lacks."""

from __future__ import annotations

from newsflow.core.arabic import CLITIC_ARTICLE_STARTS, is_nisba_adjective
from processors.entities.document import (
    ARABIC_LETTER_RE,
    COMPOUND_SECOND,
    MAX_NAME_TOKENS,
    NOT_NAME_START,
    PREPOSITION_SURFACES,
    Cand,
    Doc,
    definite,
    looks_inflected,
    verb_shape,
)
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


def name_end(doc: Doc, i: int, max_unknown: int = 2) -> int:
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
            if definite(w) and w not in COMPOUND_SECOND:
                unknown = max_unknown  # after a family name (العنزي) only name parts
            continue
        if fl & NOT_NAME_START or fl & ENT:
            break
        if is_nisba_adjective(w):
            # A masculine nisba right after a name is a family name (محمد الشمري).
            if not w.endswith("يه"):
                end += 1
            break
        if w.startswith(CLITIC_ARTICLE_STARTS) or w.startswith("و"):
            break
        if verb_shape(w) or not ARABIC_LETTER_RE.match(w):
            break  # present-tense verb shape, or a number / Latin word
        if looks_inflected(doc.surface(end)):
            break
        if unknown >= max_unknown:
            break
        unknown += 1
        end += 1
    return end


def is_name_start(doc: Doc, i: int) -> bool:
    fl = doc.flags[i]
    w = doc.words[i]
    if fl & (GIVEN | NAMEPART) and not fl & (STOP | ORDINAL | TITLE):
        return True
    if fl & NOT_NAME_START or fl & ENT:
        return False
    if not ARABIC_LETTER_RE.match(w) or len(w) < 2:
        return False
    if w.startswith(("ال", *CLITIC_ARTICLE_STARTS)) or looks_inflected(doc.surface(i)):
        return False
    return not verb_shape(w)


def title_names(doc: Doc, title_ends: list[int], gaz_at: dict[int, Cand]) -> list[Cand]:
    out: list[Cand] = []
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
        if not is_name_start(doc, k) or doc.surface(k) in PREPOSITION_SURFACES:
            continue
        # an unknown first word may take one more (فاتن حمامة); a known given name two
        known_start = bool(doc.flags[k] & (GIVEN | NAMEPART))
        end = name_end(doc, k, max_unknown=2 if known_start else 1)
        out.append(Cand(k, end, "PERS", None, 0.85, "pattern", 5, True))
    return out


def given_names(doc: Doc) -> list[Cand]:
    out: list[Cand] = []
    resume = 0
    for i in [i for i, fl in enumerate(doc.flags) if fl & GIVEN]:
        if i < resume:
            continue  # inside the previous name
        fl = doc.flags[i]
        if fl & (STOP | TITLE) or doc.single_ent[i] is not None:
            continue
        if doc.surface(i) in PREPOSITION_SURFACES:
            continue
        end = name_end(doc, i, max_unknown=1)
        strong_follow = end > i + 1 and bool(
            doc.flags[i + 1] & (GIVEN | NAMEPART | LINK) or doc.single_ent[i + 1]
        )
        if (fl & AMBIG or (fl & LINK and end == i + 1)) and not strong_follow:
            continue  # حسن / عبد alone are words, not names
        conf = 0.8 if strong_follow else (0.65 if end > i + 1 else 0.55)
        out.append(Cand(i, end, "PERS", None, conf, "pattern", 3, strong_follow))
        resume = end
    return out


def extend_listed_names(doc: Doc, cands: list[Cand]) -> None:
    """A listed name may go on with a chain the list lacks (تميم بن حمد + آل ثاني)."""
    n = len(doc.words)
    for c in cands:
        if c.etype == "PERS" and c.end < n and doc.flags[c.end] & LINK and doc.adjacent(c.end - 1):
            end = name_end(doc, c.end - 1, max_unknown=0)
            if end > c.end:
                c.end, c.canonical = end, None
