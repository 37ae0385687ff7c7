"""``GET /subscribe`` as Server-Sent Events: each matching article (or retraction) is one
event whose ``id`` is the resume token ``topic@partition:offset,...`` -- the next offset to read
in every partition of the topics read. A client that reconnects with ``Last-Event-ID`` (browsers'
EventSource does so by itself) continues right after the last event it received: no gap, and
nothing it already had comes again."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import orjson
from fastapi import HTTPException, Request
from sse_starlette.sse import EventSourceResponse

from ingest.subscription import AsyncSubscription, Delivery
from ingest.subscription_filter import decode_positions
from newsflow.core.contract import EnrichedArticle, LabelRetraction
from newsflow.core.settings import Settings

PING_SECONDS = 15  # keeps proxies from closing an idle stream


def summary(article: EnrichedArticle) -> dict[str, Any]:
    """What a live view shows; ``full=true`` sends the whole enriched record instead."""
    names = Counter(e.canonical for e in article.entities).most_common(5)
    return {
        "id": article.id, "title": article.title, "source": article.source, "url": article.url,
        "published_at": article.published_at.isoformat() if article.published_at else None,
        "ingested_at": article.ingested_at.isoformat(), "language": article.language,
        "labels": [t.label for t in article.topics], "entities": [n for n, _ in names],
    }


def event_for(delivery: Delivery, full: bool) -> dict[str, str]:
    item = delivery.item
    if isinstance(item, LabelRetraction):
        return {"id": delivery.token, "event": "retraction",
                "data": item.model_dump_json()}
    data = delivery.value.decode() if full else orjson.dumps(summary(item)).decode()
    return {"id": delivery.token, "event": "article", "data": data}


async def open_subscription(
    settings: Settings, labels: list[str], entity: str | None, sources: list[str],
    languages: list[str], last_event_id: str | None,
) -> AsyncSubscription:
    """Opened before the response starts, so that a bad filter is a 4xx and everything
    produced after the client has its headers is in the stream."""
    try:
        positions = decode_positions(last_event_id) if last_event_id else None
        sub = AsyncSubscription(labels, entity, sources, languages, start="new",
                                positions=positions, settings=settings)
    except ValueError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from exc
    try:
        await sub.open()
    except LookupError as exc:
        await sub.close()
        raise HTTPException(status_code=404, detail=str(exc.args[0])) from exc
    return sub


async def _events(request: Request, sub: AsyncSubscription, full: bool
                  ) -> AsyncIterator[dict[str, str]]:
    try:
        while not await request.is_disconnected():
            delivery = await sub.next_delivery()
            if delivery is not None:
                yield event_for(delivery, full)
    finally:
        await asyncio.shield(sub.close())


def event_stream(request: Request, sub: AsyncSubscription, full: bool) -> EventSourceResponse:
    return EventSourceResponse(_events(request, sub, full), ping=PING_SECONDS)
