"""Index template, versioned index and alias. Writers and readers only ever name the alias
(``news``); the concrete index (``news-v1``) can be rebuilt as ``news-v2`` and swapped in."""

from __future__ import annotations

import copy
import hashlib
import json
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from elasticsearch import BadRequestError, Elasticsearch, NotFoundError

from newsflow.core.settings import Settings

# Package data, so an installed wheel finds it outside a checkout.
TEMPLATE_PATH: Traversable = resources.files("ingest") / "data" / "news-template.json"


def load_template(path: Path | Traversable = TEMPLATE_PATH) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def template_name(settings: Settings) -> str:
    return f"{settings.es_alias}-template"


def template_for(settings: Settings, base: dict[str, Any] | None = None) -> dict[str, Any]:
    """The shipped template aimed at ``<alias>-*`` and stamped with a checksum of its content, so
    that re-running setup can tell "unchanged" from "updated" without diffing Elasticsearch's
    normalized echo of the settings."""
    tpl = copy.deepcopy(base if base is not None else load_template())
    tpl["index_patterns"] = [f"{settings.es_alias}-*"]
    tpl.setdefault("_meta", {})
    tpl["_meta"].pop("checksum", None)
    digest = hashlib.sha256(json.dumps(tpl, sort_keys=True).encode("utf-8")).hexdigest()
    tpl["_meta"]["checksum"] = digest[:16]
    return tpl


def _put_template(es: Elasticsearch, name: str, tpl: dict[str, Any]) -> str:
    try:
        existing = es.indices.get_index_template(name=name)["index_templates"]
    except NotFoundError:
        existing = []
    current = existing[0]["index_template"].get("_meta", {}).get("checksum") if existing else None
    if current == tpl["_meta"]["checksum"]:
        return "unchanged"
    es.indices.put_index_template(name=name, **tpl)
    return "updated" if existing else "created"


def _create_index(es: Elasticsearch, index: str) -> str:
    if es.indices.exists(index=index):
        return "exists"
    try:
        es.indices.create(index=index)
    except BadRequestError as exc:
        # Another process (a second `newsflow setup`, an indexer replica) won the race.
        if exc.error == "resource_already_exists_exception":
            return "exists"
        raise
    return "created"


# Fields added to the template after indices were created from it: put on existing indices too
# (adding a field is allowed on a live index), or a strict mapping refuses every new document.
ADDED_FIELDS: dict[str, Any] = {"metadata": {"type": "object", "enabled": False}}


def _add_new_fields(es: Elasticsearch, index: str) -> str:
    mapping = es.indices.get_mapping(index=index)[index]["mappings"].get("properties", {})
    missing = {name: spec for name, spec in ADDED_FIELDS.items() if name not in mapping}
    if not missing:
        return "exists"
    es.indices.put_mapping(index=index, properties=missing)
    return f"added {', '.join(sorted(missing))}"


def _point_alias(es: Elasticsearch, alias: str, index: str) -> str:
    if es.indices.exists(index=alias) and not es.indices.exists_alias(name=alias):
        raise RuntimeError(
            f"a concrete index named {alias!r} exists (auto-created by a write before setup?); "
            f"reindex or delete it so that {alias!r} can be an alias"
        )
    members: dict[str, Any] = {}
    if es.indices.exists_alias(name=alias):
        members = dict(es.indices.get_alias(name=alias))
    if members.get(index, {}).get("aliases", {}).get(alias, {}).get("is_write_index") is True:
        return "exists"
    others = [name for name in members if name != index]
    newer = _newer_write_index(alias, index, members)
    if newer:
        # `newsflow reindex` moved the alias on: setup with the old version must not move it
        # back (that would send writes to a stale index and reads to both).
        return f"kept: write index is the newer {newer} (set NEWSFLOW_ES_INDEX_VERSION)"
    actions: list[dict[str, Any]] = [
        {"add": {"index": index, "alias": alias, "is_write_index": True}}
    ]
    # Older versions stay readable through the alias (no data vanishes from search mid-migration)
    # but stop taking writes; drop them from the alias once they are reindexed.
    actions += [
        {"add": {"index": other, "alias": alias, "is_write_index": False}}
        for other in others
    ]
    es.indices.update_aliases(actions=actions)
    if others:
        return f"write index moved from {', '.join(sorted(others))}"
    return "updated" if members else "created"


def _version_of(alias: str, index: str) -> int:
    suffix = index.removeprefix(f"{alias}-v")
    return int(suffix) if suffix.isdigit() else 0


def _newer_write_index(alias: str, index: str, members: dict[str, Any]) -> str | None:
    for name, data in members.items():
        is_write = data.get("aliases", {}).get(alias, {}).get("is_write_index")
        if is_write and _version_of(alias, name) > _version_of(alias, index):
            return str(name)
    return None


def put_template(es: Elasticsearch, settings: Settings) -> str:
    name = template_name(settings)
    return _put_template(es, name, template_for(settings))


def ensure_index(es: Elasticsearch, settings: Settings) -> dict[str, str]:
    """Put the template, create ``settings.es_index`` if missing and make ``settings.es_alias``
    its write alias. Safe to run any number of times; returns what each step did, e.g.
    ``{"template news-template": "unchanged", "index news-v1": "exists", "alias news": "exists"}``.
    """
    name = template_name(settings)
    return {
        f"template {name}": _put_template(es, name, template_for(settings)),
        f"index {settings.es_index}": _create_index(es, settings.es_index),
        f"fields {settings.es_index}": _add_new_fields(es, settings.es_index),
        f"alias {settings.es_alias}": _point_alias(es, settings.es_alias, settings.es_index),
    }
