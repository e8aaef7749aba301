"""Dockerfile, compose.yaml and .env.example agree with the service's settings."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]  # (no types-PyYAML in the dev group)

from service.config import Settings

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = {name.upper() for name in Settings.model_fields}


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
    return data


def test_every_compose_variable_is_a_setting() -> None:
    text = (ROOT / "compose.yaml").read_text()
    interpolated = set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)", text))
    services = compose()["services"]
    environment = {
        key for name in ("api", "migrate") for key in services[name].get("environment", {})
    }
    assert interpolated and environment
    assert interpolated | environment <= SETTINGS, (interpolated | environment) - SETTINGS


def test_env_example_lists_exactly_the_settings() -> None:
    lines = (ROOT / ".env.example").read_text().splitlines()
    keys = {line.split("=", 1)[0] for line in lines if line and not line.startswith("#")}
    assert keys == SETTINGS, (keys - SETTINGS, SETTINGS - keys)


def test_compose_runs_mongo_replica_set_then_migrate_then_api() -> None:
    services = compose()["services"]
    mongo, migrate, api = services["mongo"], services["migrate"], services["api"]
    assert mongo["image"] == "mongo:8"
    assert "--replSet" in mongo["command"]
    assert "rs.initiate" in " ".join(mongo["healthcheck"]["test"])
    assert migrate["command"] == ["python", "-m", "service", "migrate", "up"]
    assert migrate["depends_on"]["mongo"]["condition"] == "service_healthy"
    assert api["depends_on"] == {
        "mongo": {"condition": "service_healthy"},
        "migrate": {"condition": "service_completed_successfully"},
    }
    assert api["env_file"][0]["path"] == ".env"
    assert "replicaSet=rs0" in api["environment"]["MONGODB_URL"]


def test_dockerfile_is_slim_non_root_locked_and_health_checked() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim", text, re.M)
    assert "uv sync --frozen --no-dev" in text and "uv.lock" in text
    user = re.findall(r"^USER (\S+)", text, re.M)
    assert user and user[-1] not in ("root", "0")
    assert "HEALTHCHECK" in text and "/health/ready" in text
    assert '"service", "serve"' in text


def test_docker_compose_config_accepts_the_file(tmp_path: Path) -> None:
    docker = shutil.which("docker")
    has_compose = (
        docker is not None
        and subprocess.run(
            [docker, "compose", "version"], capture_output=True, check=False
        ).returncode
        == 0
    )
    if not has_compose or docker is None:
        pytest.skip("the docker compose plugin is not installed here")
    done = subprocess.run(
        [docker, "compose", "-f", str(ROOT / "compose.yaml"), "config", "--quiet"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


def test_observability_profile_is_optional_and_wired_to_the_api() -> None:
    services = compose()["services"]
    extra = {"prometheus", "grafana", "otel-collector", "jaeger"}
    assert extra <= services.keys()
    for name, service in services.items():
        # Without `--profile observability` only the service itself starts.
        assert (service.get("profiles") == ["observability"]) == (name in extra), name
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), (name, source)
    assert (
        "${OTEL_EXPORTER_OTLP_ENDPOINT"
        in services["api"]["environment"]["OTEL_EXPORTER_OTLP_ENDPOINT"]
    )
    prometheus = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
    (job,) = prometheus["scrape_configs"]
    assert job["static_configs"][0]["targets"] == ["api:8000"]
    assert job["metrics_path"] == "/metrics"
    assert prometheus["rule_files"] == ["alerts.yaml"]
    mounted = " ".join(services["prometheus"]["volumes"])
    assert "alerts.yaml:/etc/prometheus/alerts.yaml" in mounted
    collector = yaml.safe_load((ROOT / "deploy/otel-collector.yaml").read_text())
    assert collector["receivers"]["otlp"]["protocols"]["http"]["endpoint"].endswith(":4318")
    assert collector["service"]["pipelines"]["traces"]["receivers"] == ["otlp"]
    grafana = " ".join(services["grafana"]["volumes"])
    assert "vm-inventory.json:/var/lib/grafana/dashboards/" in grafana
    sources = yaml.safe_load(
        (ROOT / "deploy/grafana/provisioning/datasources/datasources.yaml").read_text()
    )["datasources"]
    assert {"http://prometheus:9090", "http://jaeger:16686"} == {s["url"] for s in sources}
