"""deploy/kibana/newsflow.ndjson against the index template: every reference resolves inside the
file, and every field the objects use exists in the mapping with a type that can do the job
(aggregations need keyword/date/numeric). Changing the mapping under the dashboards fails here."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from ingest.es_setup import load_template

NDJSON = Path(__file__).resolve().parents[2] / "deploy" / "kibana" / "newsflow.ndjson"
AGGREGATABLE = {"keyword", "date", "long", "integer", "short", "byte", "double", "float",
                "half_float", "scaled_float", "boolean", "ip"}
KQL_FIELD = re.compile(r"([A-Za-z_][\w.]*)\s*:")


def _objects() -> list[dict[str, Any]]:
    lines = NDJSON.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def _field_types() -> dict[str, str]:
    """Flattened field path -> type, including multi-fields (title.keyword)."""
    out: dict[str, str] = {}

    def walk(props: dict[str, Any], prefix: str) -> None:
        for name, spec in props.items():
            path = f"{prefix}{name}"
            out[path] = spec.get("type", "object")
            for sub, sspec in spec.get("fields", {}).items():
                out[f"{path}.{sub}"] = sspec["type"]
            walk(spec.get("properties", {}), f"{path}.")

    walk(load_template()["template"]["mappings"]["properties"], "")
    return out


OBJECTS = _objects()
FIELDS = _field_types()
BY_ID = {(o["type"], o["id"]): o for o in OBJECTS}


def _of_type(kind: str) -> list[dict[str, Any]]:
    return [o for o in OBJECTS if o["type"] == kind]


def test_expected_objects_present() -> None:
    kinds = {o["type"] for o in OBJECTS}
    assert kinds == {"index-pattern", "search", "lens", "dashboard"}
    titles = {o["attributes"]["title"] for o in OBJECTS}
    assert {"Latest articles", "Conflict articles", "Top persons", "Top locations",
            "Top organizations", "Topic distribution", "Articles per source over time",
            "Newsflow overview"} <= titles
    assert len(BY_ID) == len(OBJECTS), "duplicate ids"


@pytest.mark.parametrize("obj", OBJECTS, ids=lambda o: o["id"])
def test_references_resolve(obj: dict[str, Any]) -> None:
    for ref in obj.get("references", []):
        assert (ref["type"], ref["id"]) in BY_ID, ref


def test_data_view_time_field() -> None:
    (dv,) = _of_type("index-pattern")
    assert dv["attributes"]["title"] == "news"
    assert FIELDS[dv["attributes"]["timeFieldName"]] == "date"


@pytest.mark.parametrize("obj", _of_type("search"), ids=lambda o: o["id"])
def test_saved_search_fields(obj: dict[str, Any]) -> None:
    attrs = obj["attributes"]
    for column in attrs["columns"]:
        assert column in FIELDS, column
    for field, _direction in attrs["sort"]:
        assert FIELDS[field] in AGGREGATABLE, field
    source = json.loads(attrs["kibanaSavedObjectMeta"]["searchSourceJSON"])
    assert source["indexRefName"] in {r["name"] for r in obj["references"]}
    for field in KQL_FIELD.findall(source["query"]["query"]):
        assert field in FIELDS, field


@pytest.mark.parametrize("obj", _of_type("lens"), ids=lambda o: o["id"])
def test_lens_fields_are_aggregatable(obj: dict[str, Any]) -> None:
    state = obj["attributes"]["state"]
    ref_names = {r["name"] for r in obj["references"]}
    layers = state["datasourceStates"]["formBased"]["layers"]
    for layer_id, layer in layers.items():
        assert f"indexpattern-datasource-layer-{layer_id}" in ref_names
        assert set(layer["columnOrder"]) == set(layer["columns"])
        for column in layer["columns"].values():
            field = column["sourceField"]
            if field == "___records___":  # Lens' pseudo-field for count
                continue
            assert field in FIELDS, field
            assert FIELDS[field] in AGGREGATABLE, f"{field} is {FIELDS[field]}"
            if column["operationType"] == "date_histogram":
                assert FIELDS[field] == "date"
    columns = {c for layer in layers.values() for c in layer["columns"]}
    vis = state["visualization"]
    for vlayer in vis["layers"]:
        used = {vlayer.get("xAccessor"), vlayer.get("splitAccessor"),
                *vlayer.get("accessors", []), *vlayer.get("primaryGroups", []),
                *vlayer.get("metrics", [])} - {None}
        assert used <= columns


def test_dashboard_panels_match_references() -> None:
    (dash,) = _of_type("dashboard")
    panels = json.loads(dash["attributes"]["panelsJSON"])
    refs = {r["name"]: r for r in dash["references"]}
    assert len(panels) == len(refs) >= 5
    for panel in panels:
        ref = refs[f"{panel['panelIndex']}:{panel['panelRefName']}"]
        assert ref["type"] == panel["type"]
        assert panel["gridData"]["i"] == panel["panelIndex"]
    panel_ids = {r["id"] for r in refs.values()}
    assert {o["id"] for o in _of_type("lens")} <= panel_ids
