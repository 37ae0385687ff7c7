"""Offset-preserving Arabic folding for dictionary matching.

Entity offsets must point into the *original* body (``body[start:end] == text``), but matching
has to ignore spelling noise (hamza on alef, final yeh/alef maksura, teh marbuta/heh, harakat,
tatweel). ``fold`` returns the folded string plus, when characters were deleted, the few
positions where the shift back to body offsets changes (looked up by bisection).

Folded text keeps exactly one character per kept body character: letters are folded, every
separator (whitespace, punctuation, symbols) becomes a plain space, so a dictionary key wrapped
in spaces matches only whole words.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from dataclasses import dataclass

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


# Folding runs on bytes: Windows-1256 encodes Arabic one byte per character, so encode ->
# bytes.translate -> decode is three C passes with no per-character Python work, about ten
# times faster than str.translate on a large table or a regex substitution. Characters the
# code page lacks become "?" (one byte each, so lengths and offsets are kept) and then spaces.
_CODEPAGE = "cp1256"
# Folds for letters Windows-1256 cannot encode; applied with str.replace before encoding.
_PRE_FOLDS = {k: v for k, v in _LETTER_FOLDS.items() if k.encode(_CODEPAGE, "replace") == b"?"}


def _byte_table() -> bytes:
    table = bytearray(range(256))
    for b in range(256):
        ch = bytes([b]).decode(_CODEPAGE, "replace")
        if ch in _LETTER_FOLDS:
            table[b] = _LETTER_FOLDS[ch].encode(_CODEPAGE)[0]
        elif "A" <= ch <= "Z":
            table[b] = ord(ch.lower())
        elif not (ch.isalnum() or unicodedata.category(ch) == "Mn") or ch == "_":
            table[b] = 0x20  # separators, symbols, controls and "?" (unencodable)
    return bytes(table)


_BYTE_TABLE = _byte_table()


@dataclass(frozen=True, slots=True)
class Folded:
    """Folded text and how to get back to the original.

    Deleted characters come in a few runs per article, so the way back is stored as the
    folded positions where the shift to body offsets grows (bisect per lookup) rather than a
    per-character offset table."""

    text: str
    seg_starts: tuple[int, ...] = ()  # folded index from which shifts[k] applies
    shifts: tuple[int, ...] = ()

    @property
    def identity(self) -> bool:
        return not self.seg_starts

    def body_index(self, i: int) -> int:
        """Body offset of the folded character at index i."""
        if not self.seg_starts:
            return i
        k = bisect_right(self.seg_starts, i)
        return i + self.shifts[k - 1] if k else i

    def to_body(self, start: int, end: int) -> tuple[int, int]:
        """Map a folded half-open span back to a body half-open span."""
        if not self.seg_starts:
            return start, end
        return self.body_index(start), self.body_index(end - 1) + 1


def fold(text: str) -> Folded:
    """Fold ``text`` for matching (see module doc), keeping a way back to body offsets.

    Letters the code page lacks and that are not folded here (Latin accents, CJK, emoji,
    Arabic-Indic digits) become spaces; they never take part in Arabic names."""
    seg_starts: list[int] = []
    shifts: list[int] = []
    if _DELETE_RE.search(text) is not None:
        shift = 0
        for m in _DELETE_RE.finditer(text):
            shift += m.end() - m.start()
            seg_starts.append(m.end() - shift)
            shifts.append(shift)
        text = _DELETE_RE.sub("", text)
    for src, dst in _PRE_FOLDS.items():
        if src in text:
            text = text.replace(src, dst)
    out = text.encode(_CODEPAGE, "replace").translate(_BYTE_TABLE).decode(_CODEPAGE)
    return Folded(out, tuple(seg_starts), tuple(shifts))


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
