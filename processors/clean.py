"""Cleaning: raw article text to display text (``body``) and search text (``body_normalized``).

Pure functions. camel-tools' ``arclean`` map is used with ``default=None`` so that characters it
does not know (emoji, currency signs, CJK, Latin accents) are kept rather than deleted."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from camel_tools.utils.charmap import CharMapper
from camel_tools.utils.dediac import dediac_ar
from camel_tools.utils.normalize import (
    normalize_alef_ar,
    normalize_alef_maksura_ar,
    normalize_teh_marbuta_ar,
)

TATWEEL = "\u0640"
# Invisible format characters. Inside an Arabic word they are noise from copy-paste or from
# Persian keyboards; arclean would turn them into a space and split the word in two.
_INVISIBLE = dict.fromkeys(
    map(ord, "\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068"
        "\u2069\u2060\ufeff\u00ad\u061c"),
    None,
)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SPACES = re.compile(r"[^\S\n]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")
_ALL_WS = re.compile(r"\s+")


@lru_cache(maxsize=1)
def _keeping_arclean() -> CharMapper:
    arclean = CharMapper.builtin_mapper("arclean")
    # The builtin map deletes unmapped characters; the same table with default=None keeps them.
    return CharMapper(arclean._charmap, default=None)


def clean_display(text: str) -> str:
    """Readable text: NFKC (so presentation forms and decomposed hamza become ordinary letters),
    invisible and control characters removed, runs of spaces collapsed, paragraphs kept."""
    if not text:
        return ""
    out = unicodedata.normalize("NFKC", text).translate(_INVISIBLE)
    out = _CONTROL.sub("", out).replace("\r\n", "\n").replace("\r", "\n")
    out = _SPACES.sub(" ", out)
    lines = (line.strip() for line in out.split("\n"))
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def normalize_search(text: str) -> str:
    """Folded text for matching and search: arclean mapping (Persian ی/ک, Arabic digits, odd
    punctuation), no diacritics or tatweel, alef/alef-maqsura/teh-marbuta folded, lower-cased,
    whitespace collapsed."""
    if not text:
        return ""
    out = unicodedata.normalize("NFKC", text).translate(_INVISIBLE)
    out = _keeping_arclean()(out)
    out = dediac_ar(out).replace(TATWEEL, "")
    out = normalize_teh_marbuta_ar(normalize_alef_maksura_ar(normalize_alef_ar(out)))
    return _ALL_WS.sub(" ", out).strip().lower()


def html_to_text(html: str, url: str | None = None) -> str:
    """Main article text of a page (boilerplate, scripts and styles dropped)."""
    import trafilatura  # slow import; only articles that carry HTML pay for it

    extracted = trafilatura.extract(
        html, url=url, include_comments=False, include_tables=False, favor_precision=True
    )
    return extracted or ""
