"""Offset-preserving Arabic folding for dictionary matching.

Entity offsets must point into the *original* body (``body[start:end] == text``), but matching
has to ignore spelling noise (hamza on alef, final yeh/alef maksura, teh marbuta/heh, harakat,
tatweel). ``fold`` returns the folded string plus, only when characters were deleted, a map from
folded positions back to body positions; most news text has no harakat, so the common path is a
single ``str.translate`` with an identity map.

Folded text keeps exactly one character per kept body character: letters are folded, every
separator (whitespace, punctuation, symbols) becomes a plain space, so a dictionary key wrapped
in spaces matches only whole words.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

# Characters removed before matching: harakat, Quranic marks, dagger alef, tatweel, and the
# invisible direction/joiner marks that editors paste into names.
_DELETABLE = (
    "\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06dc\u06df-\u06e8\u06ea-\u06ed"
    "\u0640\u200b-\u200f\u202a-\u202e\u2066-\u2069\u061c\ufeff\u00ad"
)
_DELETE_RE = re.compile(f"[{_DELETABLE}]")

_LETTER_FOLDS = {
    "آ": "ا",
    "أ": "ا",
    "إ": "ا",
    "ٱ": "ا",
    "ٲ": "ا",
    "ٳ": "ا",
    "ى": "ي",
    "ی": "ي",  # Persian yeh, common in pasted text
    "ې": "ي",
    "ک": "ك",
    "ة": "ه",
    "ۀ": "ه",
    "ە": "ه",
}


@lru_cache(maxsize=1)
def _fold_table() -> dict[int, str]:
    table: dict[int, str] = {}
    # Planes 0 and 1 cover Arabic, punctuation and emoji; build once, ~0.1 s.
    for cp in range(0x20000):
        ch = chr(cp)
        cat = unicodedata.category(ch)
        if cat[0] in "PSZ" or cat == "Cc":
            table[cp] = " "
        elif cat == "Nd":
            table[cp] = str(unicodedata.digit(ch))
    for src, dst in _LETTER_FOLDS.items():
        table[ord(src)] = dst
    for cp in range(ord("A"), ord("Z") + 1):
        table[cp] = chr(cp + 32)
    return table


@dataclass(frozen=True, slots=True)
class Folded:
    """Folded text and how to get back to the original."""

    text: str
    offsets: list[int] | None  # folded index -> body index; None means identity

    def to_body(self, start: int, end: int) -> tuple[int, int]:
        """Map a folded half-open span back to a body half-open span."""
        if self.offsets is None:
            return start, end
        return self.offsets[start], self.offsets[end - 1] + 1


def fold(text: str) -> Folded:
    """Fold ``text`` for matching (see module doc), keeping a way back to body offsets."""
    table = _fold_table()
    if _DELETE_RE.search(text) is None:
        return Folded(text.translate(table), None)
    offsets: list[int] = []
    pos = 0
    for m in _DELETE_RE.finditer(text):
        offsets.extend(range(pos, m.start()))
        pos = m.end()
    offsets.extend(range(pos, len(text)))
    return Folded(_DELETE_RE.sub("", text).translate(table), offsets)


def fold_key(text: str) -> str:
    """Fold a dictionary entry: same folding as bodies, separators collapsed to one space."""
    return " ".join(fold(text).text.split())


# Proclitics a name can carry in running text. Order matters only for readability.
CONJ = ("و", "ف")
# Prefix chains before a bare (non-definite) word: conjunction, then preposition.
BARE_PREFIXES: tuple[str, ...] = (
    "",
    "و",
    "ف",
    "ب",
    "ل",
    "ك",
    "وب",
    "ول",
    "فب",
    "فل",
    "وك",
    "فك",
)
# Before a word that starts with the article ال; ل+ال is written لل and handled separately.
DEFINITE_PREFIXES: tuple[str, ...] = ("", "و", "ف", "ب", "ك", "وب", "فب", "وك", "فك")
LAM_PREFIXES: tuple[str, ...] = ("", "و", "ف")  # before the fused لل form

# Folded clitic+article starts: a word that begins like this is a common noun phrase far more
# often than a name, so name chains stop there.
CLITIC_ARTICLE_STARTS: tuple[str, ...] = ("وال", "بال", "فال", "كال", "لل", "ولل", "فلل", "وبال")


def clitic_variants(key: str) -> list[tuple[str, int]]:
    """All written forms of folded ``key`` with proclitics, as (variant, prefix length)."""
    if key.startswith("ال") and len(key) > 3:
        out = [(p + key, len(p)) for p in DEFINITE_PREFIXES]
        fused = "ل" + key[1:]  # ل + الكتاب -> للكتاب
        out.extend((p + fused, len(p) + 1) for p in LAM_PREFIXES)
        return out
    return [(p + key, len(p)) for p in BARE_PREFIXES]


def strip_article_clitics(word: str) -> str:
    """Remove a conjunction/preposition in front of a definite word (وبالقاهره -> القاهره).

    Only definite words are touched: for a bare word the first letter may belong to the name
    (وليد, بشار, فادي), so guessing would corrupt canonical forms."""
    for p in ("وبال", "فبال", "وال", "فال", "بال", "كال"):
        if word.startswith(p) and len(word) > len(p) + 1:
            return word[len(p) - 2 :]
    for p in ("ولل", "فلل", "لل"):
        if word.startswith(p) and len(word) > len(p) + 1:
            return "ال" + word[len(p) :]
    return word


def is_nisba_adjective(word: str) -> bool:
    """Definite relational adjective (الروسي، الكوريه، الشمالي): describes, never names."""
    return word.startswith("ال") and len(word) >= 5 and (word.endswith("ي") or word.endswith("يه"))
