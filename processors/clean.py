"""Cleaning a raw article into display text: the page's main text when only HTML was sent, then
the display cleaning and fold of ``newsflow.core.arabic``. Pure functions."""

from __future__ import annotations


def html_to_text(html: str, url: str | None = None) -> str:
    """Main article text of a page (boilerplate, scripts and styles dropped)."""
    import trafilatura  # slow import; only articles that carry HTML pay for it

    extracted = trafilatura.extract(
        html, url=url, include_comments=False, include_tables=False, favor_precision=True
    )
    return extracted or ""
