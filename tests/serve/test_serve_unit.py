"""The HTTP layer without services: escaping, API-key auth, the page, event shapes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from ingest.search import HL_POST, HL_PRE
from ingest.subscription import Delivery
from newsflow.core.contract import EnrichedArticle, Entity, LabelRetraction, Processing, TopicTag
from newsflow.core.settings import Settings
from newsflow.serve.app import create_app, html_snippet
from newsflow.serve.sse import event_for

# Nothing listens here: routes that reach Elasticsearch fail fast, auth is checked before.
OFFLINE = Settings(es_url="http://127.0.0.1:9", es_request_timeout=1)


def test_snippets_are_escaped_and_highlights_become_marks() -> None:
    raw = f"<script>x</script> قال {HL_PRE}بوتين{HL_POST} & غيره"
    assert html_snippet(raw) == ("&lt;script&gt;x&lt;/script&gt; قال <mark>بوتين</mark> "
                                 "&amp; غيره")


@pytest.mark.parametrize("how", ["header", "bearer", "query"])
def test_api_key_is_required_when_configured(how: str) -> None:
    client = TestClient(create_app(OFFLINE.model_copy(
        update={"serve_api_key": SecretStr("s3cret")})))
    assert client.get("/articles/x").status_code == 401
    assert client.get("/articles/x", headers={"X-API-Key": "wrong"}).status_code == 401
    kwargs: dict[str, object] = {
        "header": {"headers": {"X-API-Key": "s3cret"}},
        "bearer": {"headers": {"Authorization": "Bearer s3cret"}},
        "query": {"params": {"api_key": "s3cret"}},
    }[how]
    # Past auth, the offline Elasticsearch is what fails: not a 401 any more.
    assert client.get("/articles/x", **kwargs).status_code == 503  # type: ignore[arg-type]
    assert client.get("/health").status_code == 503  # open without a key, says degraded


def test_page_and_openapi_are_served() -> None:
    client = TestClient(create_app(OFFLINE))
    page = client.get("/")
    assert page.status_code == 200 and 'dir="rtl"' in page.text
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/search", "/articles/{article_id}", "/subscribe", "/health"} <= set(paths)


def test_bad_resume_token_is_a_400() -> None:
    client = TestClient(create_app(OFFLINE))
    assert client.get("/subscribe", headers={"Last-Event-ID": "garbage"}).status_code == 400


def test_events_carry_the_resume_token_and_a_summary() -> None:
    article = EnrichedArticle(
        id="a1", url="https://example.org/a1", title="عنوان", ingested_at=datetime.now(UTC),
        processing=Processing(version="t"), topics=[TopicTag(label="sport", score=2)],
        entities=[Entity(type="PERS", text="بوتين", canonical="فلاديمير بوتين", start=0, end=5,
                         confidence=1)] * 2,
    )
    value = article.model_dump_json().encode()
    event = event_for(Delivery(article, value, "t", 0, 4, "t@0:5"), full=False)
    assert event["id"] == "t@0:5" and event["event"] == "article"
    assert '"entities":["فلاديمير بوتين"]' in event["data"] and '"body"' not in event["data"]
    assert event_for(Delivery(article, value, "t", 0, 4, "t@0:5"), full=True)["data"] == (
        value.decode())
    retraction = LabelRetraction(id="a1", label="sport")
    assert event_for(Delivery(retraction, b"", "t", 0, 5, "t@0:6"), False)["event"] == (
        "retraction")
