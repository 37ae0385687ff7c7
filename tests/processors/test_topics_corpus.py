"""Topic tags and near-duplicates on real newspaper text (SaudiNewsNet, read from ../shared;
skipped with a message when it is absent)."""

from __future__ import annotations

import json
import zipfile
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from newsflow.core.arabic import fold_text
from processors.dedup import NearDuplicateIndex
from processors.topics import TopicTagger

pytestmark = pytest.mark.corpus


def _articles(zips: list[Path]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for z in zips:
        with zipfile.ZipFile(z) as zf:
            for name in zf.namelist():
                out.extend(json.loads(zf.read(name)))
    return out


@pytest.fixture(scope="module")
def corpus(saudinewsnet: list[Path]) -> list[dict[str, Any]]:
    return _articles(saudinewsnet)


def test_sports_paper_is_tagged_sport(corpus: list[dict[str, Any]]) -> None:
    # The sports paper has only 52 articles in the corpus, so all are used; 2 of them are
    # advertorials (a car maker, a phone launch) and 2 have an empty body.
    tagger = TopicTagger.bundled()
    sports = [a for a in corpus if a["source"] == "arriyadiyah"]
    assert len(sports) >= 50
    tagged = sum(
        "sport"
        in {
            t.label
            for t in tagger.tag(
                fold_text(a["title"] or ""), fold_text(a["content"] or "")
            )
        }
        for a in sports
    )
    assert tagged / len(sports) >= 0.90, f"{tagged}/{len(sports)} tagged sport"


def test_economic_daily_is_economy_heavy(corpus: list[dict[str, Any]]) -> None:
    tagger = TopicTagger.bundled()
    share: dict[str, float] = {}
    # Whole sources (4.4k articles, ~1 s): the first days of one paper are not representative.
    for source in ("aleqtisadiya", "sabq"):
        sample = [a for a in corpus if a["source"] == source]
        n = Counter(
            t.label
            for a in sample
            for t in tagger.tag(
                fold_text(a["title"] or ""), fold_text(a["content"] or "")
            )
        )
        share[source] = n["economy"] / len(sample)
    assert share["aleqtisadiya"] > 0.3
    assert share["aleqtisadiya"] > 1.5 * share["sabq"]


def test_wire_copies_are_clustered(corpus: list[dict[str, Any]]) -> None:
    index = NearDuplicateIndex()
    sample = corpus[:3000]
    clusters = Counter(
        index.assign(
            a["url"],
            fold_text(a["content"] or ""),
            datetime.fromisoformat(a["date_extracted"]).timestamp(),
        )
        for a in sample
    )
    multi = [n for n in clusters.values() if n >= 2]
    # Measured 139 clusters of size >= 2 in these 3,000 articles (1,818 in the whole corpus).
    assert 60 <= len(multi) <= 400
