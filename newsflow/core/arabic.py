"""The one home of Arabic text handling: display cleaning, THE fold (with its offset map), the
clitic tables and the tokenizer. Entities, topic tags, near-duplicates, the Elasticsearch document
and search all call these functions, so a spelling that matches in one place matches in all.

Folding ignores spelling noise that readers do not see as a difference: harakat and Quranic marks,
tatweel, invisible direction/joiner marks, hamza on alef, alef maqsura/final yeh, teh marbuta/heh,
Persian yeh/keheh and the other letters camel-tools' ``arclean`` table maps to Arabic ones,
Arabic-Indic digits, case. Folded text keeps exactly one character per kept character of the
input: letters and digits are folded, every separator (whitespace, punctuation, symbols) becomes a
plain space, so a dictionary key wrapped in spaces matches only whole words, and a span found in
folded text maps back to the original with :meth:`Folded.to_body`.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from dataclasses import dataclass
from functools import lru_cache

try:
    from camel_tools.utils.charmap import CharMapper
except ImportError as exc:  # pragma: no cover - depends on how the package was installed
    raise ImportError(
        "camel-tools is not installed. Install it without its declared torch/transformers "
        "dependencies, which its text utilities do not use: "
        "`pip install --no-deps camel-tools==1.6.0` (`make install` does this)."
    ) from exc

# ---------------------------------------------------------------------------- character tables

# Invisible format characters. Inside an Arabic word they are noise from copy-paste or from
# Persian keyboards; treating them as separators would split the word in two.
_INVISIBLE = "\u200b-\u200f\u202a-\u202e\u2060\u2066-\u2069\ufeff\u00ad\u061c"
# Removed before matching: harakat, Quranic marks, dagger alef, high hamza, tatweel, invisibles.
_DELETABLE = (
    "\u0610-\u061a\u064b-\u065f\u0670\u0674\u06d6-\u06dc\u06df-\u06e8\u06ea-\u06ed\u0640"
    + _INVISIBLE
)
_DELETE_RE = re.compile(f"[{_DELETABLE}]")
_INVISIBLE_RE = re.compile(f"[{_INVISIBLE}]")
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

# Letter folds of our own, applied after arclean's (which maps e.g. ی to ى, and ى then to ي).
LETTER_FOLDS = {
    "آ": "ا",
    "أ": "ا",
    "إ": "ا",
    "ٱ": "ا",
    "ٲ": "ا",
    "ٳ": "ا",
    "ى": "ي",
    "ی": "ي",
    "ې": "ي",
    "ک": "ك",
    "ة": "ه",
    "ۀ": "ه",
    "ە": "ه",
}


@lru_cache(maxsize=1)
def _char_folds() -> dict[str, str]:
    """Single-character folds: camel-tools' arclean changes that map one character to one
    character (Persian/Urdu letters, Arabic-Indic digits, Arabic punctuation), then ours."""
    charmap: dict[str, str | None] = CharMapper.builtin_mapper("arclean")._charmap
    folds = {
        k: v
        for k, v in charmap.items()
        if len(k) == 1 and v is not None and len(v) == 1 and v != k and not _DELETE_RE.match(k)
    }
    folds = {k: LETTER_FOLDS.get(v, v) for k, v in folds.items()}
    folds.update(LETTER_FOLDS)
    return folds


# Folding runs on bytes: Windows-1256 encodes Arabic one byte per character, so encode ->
# bytes.translate -> decode is three C passes with no per-character Python work, about ten times
# faster than str.translate on a large table. Characters the code page lacks are folded with a
# regex first when a fold is known; the rest become "?" (one byte each, so lengths and offsets
# are kept) and are restored afterwards when they are letters (Latin accents, CJK...).
_CODEPAGE = "cp1256"


def _encodable(ch: str) -> bool:
    return ch.encode(_CODEPAGE, "replace") != b"?" or ch == "?"


@lru_cache(maxsize=1)
def _tables() -> tuple[bytes, re.Pattern[str] | None, dict[str, str]]:
    folds = _char_folds()
    pre = {k: v for k, v in folds.items() if not _encodable(k)}
    pre_re = re.compile("[" + "".join(re.escape(k) for k in sorted(pre)) + "]") if pre else None
    table = bytearray(range(256))
    for b in range(256):
        ch = bytes([b]).decode(_CODEPAGE, "replace")
        ch = folds.get(ch, ch)
        if not (ch.isalnum() or unicodedata.category(ch) == "Mn") or ch == "_":
            table[b] = 0x20  # separators, symbols, controls and "?" (unencodable)
        elif _encodable(ch):
            table[b] = ch.lower().encode(_CODEPAGE, "replace")[0]
    return bytes(table), pre_re, pre


@dataclass(frozen=True, slots=True)
class Folded:
    """Folded text and how to get back to the original.

    Deleted characters come in a few runs per text, so the way back is stored as the folded
    positions where the shift to original offsets grows (bisect per lookup) rather than a
    per-character offset table."""

    text: str
    seg_starts: tuple[int, ...] = ()  # folded index from which shifts[k] applies
    shifts: tuple[int, ...] = ()

    @property
    def identity(self) -> bool:
        return not self.seg_starts

    def body_index(self, i: int) -> int:
        """Original offset of the folded character at index i."""
        if not self.seg_starts:
            return i
        k = bisect_right(self.seg_starts, i)
        return i + self.shifts[k - 1] if k else i

    def to_body(self, start: int, end: int) -> tuple[int, int]:
        """Map a folded half-open span back to an original half-open span."""
        if not self.seg_starts:
            return start, end
        return self.body_index(start), self.body_index(end - 1) + 1


def _restore_foreign_letters(original: str, encoded: bytes, out: str) -> str:
    """Put back, lower-cased, the letters the code page could not encode (they became spaces)."""
    chars = list(out)
    i = encoded.find(b"?")
    while i != -1:
        ch = original[i]
        if ch != "?" and ch.isalnum():
            chars[i] = ch.lower() if len(ch.lower()) == 1 else ch
        i = encoded.find(b"?", i + 1)
    return "".join(chars)


def fold(text: str) -> Folded:
    """THE fold (see the module doc), keeping a way back to the original offsets."""
    seg_starts: list[int] = []
    shifts: list[int] = []
    if _DELETE_RE.search(text) is not None:
        shift = 0
        for m in _DELETE_RE.finditer(text):
            shift += m.end() - m.start()
            seg_starts.append(m.end() - shift)
            shifts.append(shift)
        text = _DELETE_RE.sub("", text)
    table, pre_re, pre = _tables()
    if pre_re is not None and pre_re.search(text) is not None:
        text = pre_re.sub(lambda m: pre[m.group()], text)
    encoded = text.encode(_CODEPAGE, "replace")
    out = encoded.translate(table).decode(_CODEPAGE)
    if encoded.count(b"?") != text.count("?"):
        out = _restore_foreign_letters(text, encoded, out)
    return Folded(out, tuple(seg_starts), tuple(shifts))


def fold_text(text: str) -> str:
    """Folded words separated by single spaces: ``body_normalized``, dictionary keys, query terms
    and entity filters. NFKC first, so presentation forms and decomposed hamza become letters."""
    if not text:
        return ""
    return " ".join(fold(unicodedata.normalize("NFKC", text)).text.split())


def words(folded: str) -> list[str]:
    """The tokenizer: word tokens of folded text (folding already turned separators into
    spaces). Every consumer of folded text splits it here, so tokens agree everywhere."""
    return folded.split()


def strip_marks(text: str) -> str:
    """``text`` without harakat, tatweel and invisible marks, letters as written (for display)."""
    return _DELETE_RE.sub("", text)


def is_arabic_word(word: str) -> bool:
    return bool(word) and "\u0621" <= word[0] <= "\u06ff"


def clean_display(text: str) -> str:
    """Readable text: NFKC (so presentation forms and decomposed hamza become ordinary letters),
    invisible and control characters removed, runs of spaces collapsed, paragraphs kept."""
    if not text:
        return ""
    out = _CONTROL_RE.sub("", _INVISIBLE_RE.sub("", unicodedata.normalize("NFKC", text)))
    lines = (" ".join(line.split()) for line in out.replace("\r\n", "\n").split("\n"))
    paragraphs: list[str] = []
    for line in lines:
        if line or (paragraphs and paragraphs[-1]):
            paragraphs.append(line)
    return "\n".join(paragraphs).strip()


# ---------------------------------------------------------------------------- the clitic table

ARTICLE = "ال"
CONJUNCTIONS: tuple[str, ...] = ("و", "ف")
PREPOSITIONS: tuple[str, ...] = ("ب", "ل", "ك")
# Optional conjunction, then optional preposition: every proclitic chain a word can carry.
_CONJ_CHAIN = ("", *CONJUNCTIONS)
PROCLITIC_CHAINS: tuple[str, ...] = tuple(c + p for c in _CONJ_CHAIN for p in ("", *PREPOSITIONS))
# Before a word with the article; ل + ال is written لل, so ل is not among them.
DEFINITE_PREFIXES: tuple[str, ...] = tuple(p for p in PROCLITIC_CHAINS if not p.endswith("ل"))
LAM_PREFIXES: tuple[str, ...] = _CONJ_CHAIN  # before the fused لل form
# Every written start of a word: chain + optional article, or chain + لل.
PREFIXES: frozenset[str] = frozenset(
    {p + a for p in PROCLITIC_CHAINS for a in ("", ARTICLE)} | {c + "لل" for c in _CONJ_CHAIN}
)
# Folded clitic+article starts: a word that begins like this is a common noun phrase far more
# often than a name, so name chains stop there.
CLITIC_ARTICLE_STARTS: tuple[str, ...] = ("وال", "بال", "فال", "كال", "لل", "ولل", "فلل", "وبال")

# Enclitics and inflection: plural/dual/nisba endings and possessive pronouns. ``ا`` is the
# written tanween of the accusative (هدفاً), which survives diacritic removal.
SUFFIXES: frozenset[str] = frozenset(
    {"", "ا", "ات", "ون", "ين", "ان", "يه", "ي", "ها", "هم", "هما", "هن", "نا", "كم", "يون",
     "يين", "يات", "ته", "تها", "تهم", "اته", "اتها", "اتهم", "يا"}
)
# After ة (folded ه) a suffix is written on ت: حكومة -> حكومتها, مباراة -> مباراتين.
TAA_SUFFIXES: frozenset[str] = frozenset(
    {"ها", "هم", "هما", "ه", "ي", "نا", "كم", "ين", "ان", "هن"}
)
# Shorter remainders are mostly ordinary words with a clitic-looking first letter (لبن -> بن);
# names of interest are at least three letters once the clitic is gone (مصر).
MIN_STEM = 3


def with_proclitics(key: str) -> list[tuple[str, int]]:
    """All written forms of folded ``key`` with proclitics, as (form, prefix length)."""
    if key.startswith(ARTICLE) and len(key) > 3:
        out = [(p + key, len(p)) for p in DEFINITE_PREFIXES]
        fused = "ل" + key[1:]  # ل + الكتاب -> للكتاب
        out.extend((p + fused, len(p) + 1) for p in LAM_PREFIXES)
        return out
    return [(p + key, len(p)) for p in PROCLITIC_CHAINS]


def _without_preposition(word: str) -> list[str]:
    if len(word) - 1 < MIN_STEM or word[0] not in PREPOSITIONS:
        return []
    out = [word[1:]]
    # ل + ال contracts to لل (للرئيس = ل + الرئيس): restore the article the writer dropped.
    if word.startswith("لل") and len(word) - 2 >= MIN_STEM - 1:
        out.append(ARTICLE + word[2:])
    return out


def without_proclitics(word: str) -> list[str]:
    """Forms of ``word`` without a leading conjunction and/or preposition. Over-generates on
    purpose (بيروت also yields يروت): callers use them only to add recall."""
    out: list[str] = []
    if word[:1] in CONJUNCTIONS and len(word) - 1 >= MIN_STEM:
        rest = word[1:]
        out.append(rest)
        out.extend(_without_preposition(rest))
    else:
        out.extend(_without_preposition(word))
    return out


def strip_article_clitics(word: str) -> str:
    """Remove a conjunction/preposition in front of a definite word (وبالقاهره -> القاهره).

    Only definite words are touched: for a bare word the first letter may belong to the name
    (وليد, بشار, فادي), so guessing would corrupt canonical forms."""
    for p in ("وبال", "فبال", "وال", "فال", "بال", "كال"):
        if word.startswith(p) and len(word) > len(p) + 1:
            return word[len(p) - 2 :]
    for p in ("ولل", "فلل", "لل"):
        if word.startswith(p) and len(word) > len(p) + 1:
            return ARTICLE + word[len(p) :]
    return word


def is_nisba_adjective(word: str) -> bool:
    """Definite relational adjective (الروسي، الكوريه، الشمالي): describes, never names."""
    return word.startswith(ARTICLE) and len(word) >= 5 and word.endswith(("ي", "يه"))
