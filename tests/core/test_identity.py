from __future__ import annotations

import pytest

from newsflow.core.identity import article_id, canonical_url


@pytest.mark.parametrize(
    "variant",
    [
        "https://example.org/news/a",
        "HTTPS://EXAMPLE.org/news/a/",
        "https://example.org:443/news/a#comments",
        "https://example.org/news/a?utm_source=tw&utm_medium=social",
        "https://example.org/news/a/?fbclid=abc&gclid=x#top",
    ],
)
def test_variants_share_one_id(variant: str) -> None:
    assert article_id(variant) == article_id("https://example.org/news/a")


def test_meaningful_query_is_kept_and_sorted() -> None:
    assert (
        canonical_url("https://e.org/p?id=2&utm_campaign=x&page=1") == "https://e.org/p?id=2&page=1"
    )
    assert canonical_url("https://e.org/p?page=1&id=2") == "https://e.org/p?id=2&page=1"
    assert article_id("https://e.org/p?id=2") != article_id("https://e.org/p?id=3")


def test_path_case_matters_but_host_case_does_not() -> None:
    assert canonical_url("http://E.ORG/A") == "http://e.org/A"
    assert article_id("http://e.org/A") != article_id("http://e.org/a")


def test_root_keeps_its_slash() -> None:
    assert canonical_url("https://e.org") == "https://e.org/"
    assert canonical_url("https://e.org/") == "https://e.org/"


@pytest.mark.parametrize("bad", ["", "not a url", "/relative/path", "example.org/x"])
def test_rejects_non_absolute(bad: str) -> None:
    with pytest.raises(ValueError):
        canonical_url(bad)


def test_id_is_stable() -> None:
    # pinned: changing the id scheme would silently duplicate every indexed article
    assert article_id("https://example.org/news/kim-putin-birthday") == article_id(
        "https://example.org/news/kim-putin-birthday/?utm_source=x"
    )
    assert len(article_id("https://example.org/")) == 32
