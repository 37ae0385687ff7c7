"""Cleaning edge cases: what search sees (body_normalized) and what readers see (body)."""

from __future__ import annotations

import pytest

from newsflow.core.arabic import clean_display, fold_text
from processors.clean import html_to_text


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("مُحَمَّدٌ", "محمد"),  # diacritics
        ("العربيـــــة", "العربيه"),  # tatweel, teh marbuta
        ("أحمد إبراهيم آمنة ٱلله", "احمد ابراهيم امنه الله"),  # alef variants incl. wasla
        ("مستشفى على", "مستشفي علي"),  # alef maqsura
        ("ایران کتاب", "ايران كتاب"),  # Persian yeh and keheh
        ("بو\u200cتين", "بوتين"),  # ZWNJ inside a word must not split it
        ("بو\u200fتين", "بوتين"),  # RLM likewise
        ("عام ٢٠٢٤", "عام 2024"),  # Arabic-Indic digits
        ("ﻣﺮﺣﺒﺎ", "مرحبا"),  # presentation forms (NFKC)
        ("الأمم المتحدة 😀 €", "الامم المتحده"),  # symbols separate words
        ("Zürich Ελλάδα", "zürich ελλάδα"),  # letters outside Windows-1256 are kept
        ("KCNA  News", "kcna news"),
        ("", ""),
    ],
)
def test_normalize_search(raw: str, expected: str) -> None:
    assert fold_text(raw) == expected


def test_normalize_decomposed_hamza() -> None:
    # alef + combining hamza above (U+0654) is NFKC-composed to أ, then folded to ا
    assert fold_text("ا\u0654حمد") == "احمد"


def test_clean_display_keeps_readable_text() -> None:
    raw = "  مُحَمَّدٌ\u200c  قال:\r\n\r\n\r\n  «نعم»\x07  "
    assert clean_display(raw) == "مُحَمَّدٌ قال:\n\n«نعم»"


def test_clean_display_empty() -> None:
    assert clean_display("") == ""
    assert clean_display("   \n\n  ") == ""


def test_html_drops_script_and_style() -> None:
    html = (
        "<html><head><style>.x{color:red}</style><script>var secret = 1;</script></head><body>"
        "<nav>القائمة الرئيسية</nav><article><h1>عنوان الخبر</h1>"
        + "<p>قال الرئيس إن الحكومة ستعلن خطة جديدة للإصلاح الاقتصادي خلال الأسابيع المقبلة.</p>"
        * 3
        + "</article><script>alert('x')</script></body></html>"
    )
    text = html_to_text(html)
    assert "خطة جديدة للإصلاح الاقتصادي" in text
    assert "secret" not in text and "alert" not in text and "color" not in text


def test_html_without_article_text() -> None:
    assert html_to_text("<html><body><script>x()</script></body></html>") == ""
