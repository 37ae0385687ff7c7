"""Facet counts for a search (labels, sources, entities), from Elasticsearch aggregations over
the flat keyword fields that ``ingest.es_doc`` derives for exactly this purpose."""

from __future__ import annotations

from typing import Any

FACET_FIELDS = {"labels": "topic_labels", "sources": "source", "entities": "entity_names"}
FACET_SIZE = 10


def facet_aggs(size: int = FACET_SIZE) -> dict[str, Any]:
    return {name: {"terms": {"field": field, "size": size}} for name, field in FACET_FIELDS.items()}


def parse_facets(aggregations: dict[str, Any] | None) -> dict[str, list[dict[str, Any]]]:
    """{"labels": [{"value": "sport", "count": 12}, ...], "sources": [...], "entities": [...]}"""
    aggregations = aggregations or {}
    return {
        name: [{"value": b["key"], "count": b["doc_count"]}
               for b in (aggregations.get(name) or {}).get("buckets", [])]
        for name in FACET_FIELDS
    }
