"""``newsflow serve``: the HTTP API (FastAPI) and a small RTL search page.

``/search`` runs the very query of ``newsflow search``; ``/articles/{id}`` returns one indexed
article; ``/subscribe`` is the live stream as Server-Sent Events (``newsflow.serve.sse``);
``/health`` says whether Elasticsearch answers; ``/docs`` is the OpenAPI page. With
``NEWSFLOW_SERVE_API_KEY`` set, every route but ``/health`` and the page itself needs the key as
``X-API-Key``, ``Authorization: Bearer KEY`` or ``?api_key=KEY`` (EventSource cannot set
headers)."""

from __future__ import annotations

import hmac
import html
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

import orjson
from elastic_transport import TransportError
from elasticsearch import Elasticsearch, NotFoundError
from fastapi import Depends, FastAPI, Header, HTTPException, Query, Request
from fastapi.responses import FileResponse, JSONResponse, Response

from ingest.search import HL_POST, HL_PRE, SearchError, search
from newsflow.core.clients import elasticsearch_client
from newsflow.core.settings import Settings, get_settings
from newsflow.core.version import __version__
from newsflow.serve.sse import event_stream, open_subscription

STATIC = Path(__file__).resolve().parent / "static"
# Search helpers (folded body, segmentation terms): derived, not part of the article.
ARTICLE_EXCLUDES = ["body_normalized", "seg"]


def html_snippet(snippet: str) -> str:
    """Article text escaped, highlights as <mark>: safe to insert as HTML."""
    return html.escape(snippet).replace(HL_PRE, "<mark>").replace(HL_POST, "</mark>")


def search_payload(es: Elasticsearch, settings: Settings, **query: Any) -> dict[str, Any]:
    results = search(es, settings, **query)
    out = results.as_dict()
    for hit, raw in zip(out["hits"], results.hits, strict=True):
        hit["snippets_html"] = [html_snippet(s) for s in raw.snippets]
    return out


def api_key_check(settings: Settings) -> Any:
    expected = settings.serve_api_key.get_secret_value() if settings.serve_api_key else None

    def check(
        x_api_key: Annotated[str | None, Header()] = None,
        authorization: Annotated[str | None, Header()] = None,
        api_key: Annotated[str | None, Query(description="for EventSource clients")] = None,
    ) -> None:
        if expected is None:
            return
        bearer = (authorization or "").removeprefix("Bearer ") if authorization else None
        given = x_api_key or bearer or api_key or ""
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise HTTPException(status_code=401, detail="missing or wrong API key")

    return check


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    es = elasticsearch_client(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        es.close()

    app = FastAPI(title="newsflow", version=__version__, lifespan=lifespan,
                  description="Search and follow enriched Arabic news.")
    auth = [Depends(api_key_check(settings))]
    add_search_routes(app, es, settings, auth)
    add_subscribe_route(app, settings, auth)

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8")

    @app.get("/health")
    def health() -> JSONResponse:
        try:
            up = bool(es.options(request_timeout=2).ping())
        except TransportError:
            up = False
        return JSONResponse({"status": "ok" if up else "degraded", "elasticsearch": up,
                             "version": __version__}, status_code=200 if up else 503)

    return app


def add_search_routes(app: FastAPI, es: Elasticsearch, settings: Settings, auth: list[Any]
                      ) -> None:
    @app.get("/search", dependencies=auth)
    def search_route(
        q: Annotated[str, Query(description="words or a name; empty lists the newest")] = "",
        label: Annotated[str | None, Query(description="topic label")] = None,
        entity: str | None = None,
        source: str | None = None,
        since: Annotated[str | None, Query(description="ISO date or date math")] = None,
        limit: Annotated[int, Query(ge=1, le=100)] = 10,
        facets: Annotated[bool, Query(description="label/source/entity counts too")] = False,
    ) -> Response:
        """Ranked search with highlighted snippets (``<em>`` in ``snippets``, escaped HTML
        with ``<mark>`` in ``snippets_html``); with ``facets`` also facet counts (they cost
        about as much again: aggregations over every match)."""
        try:
            payload = search_payload(es, settings, query=q, topic=label, entity=entity,
                                     source=source, since=since, limit=limit, facets=facets)
            # orjson straight to bytes: FastAPI's generic encoder costs several ms per result.
            return Response(orjson.dumps(payload), media_type="application/json")
        except SearchError as exc:
            raise HTTPException(status_code=503, detail=str(exc)) from exc

    @app.get("/articles/{article_id}", dependencies=auth)
    def article(article_id: str) -> dict[str, Any]:
        try:
            doc = es.get(index=settings.es_alias, id=article_id,
                         source_excludes=ARTICLE_EXCLUDES)
        except NotFoundError as exc:
            raise HTTPException(status_code=404, detail=f"no article {article_id}") from exc
        except TransportError as exc:
            raise HTTPException(status_code=503, detail=f"Elasticsearch at {settings.es_url} "
                                f"is unreachable ({type(exc).__name__})") from exc
        source: dict[str, Any] = doc["_source"]
        return source


def add_subscribe_route(app: FastAPI, settings: Settings, auth: list[Any]) -> None:
    @app.get("/subscribe", dependencies=auth)
    async def subscribe(
        request: Request,
        label: Annotated[list[str] | None, Query()] = None,
        entity: str | None = None,
        source: Annotated[list[str] | None, Query()] = None,
        language: Annotated[list[str] | None, Query()] = None,
        full: Annotated[bool, Query(description="whole enriched records")] = False,
        last_event_id: Annotated[str | None, Header()] = None,
        resume: Annotated[str | None, Query(description="a Last-Event-ID, as a parameter")
                          ] = None,
    ) -> Any:
        """Server-Sent Events: ``article`` (summary, or the record with ``full``) and
        ``retraction`` events; reconnect with ``Last-Event-ID`` to resume without gaps."""
        sub = await open_subscription(settings, label or [], entity, source or [],
                                      language or [], last_event_id or resume)
        return event_stream(request, sub, full)
