"""The Grafana dashboard and the alert rules query only metrics /metrics exports; the gauges the
alerts need (schema mismatch, the configured limits) say what they should."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]  # (no types-PyYAML in the dev group)
from litestar.testing import AsyncTestClient
from pymongo.asynchronous.database import AsyncDatabase

import service.http.protocol  # noqa: F401  # the server's protocol (`serve` imports it) owns a gauge
from service.config import Settings
from service.storage.migrations.lock import LOCK_COLLECTION, LOCK_ID
from tests.api.helpers import BASE

DEPLOY = Path(__file__).resolve().parents[3] / "deploy"
# PromQL words that are not metric names.
PROMQL = {
    "sum", "min", "max", "avg", "count", "rate", "irate", "increase", "histogram_quantile",
    "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless",
    "bool", "offset", "topk", "bottomk", "abs", "clamp_min", "clamp_max", "time", "vector",
    "absent", "delta", "deriv", "avg_over_time", "max_over_time", "min_over_time", "le", "inf",
}  # fmt: skip


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)  # strings
    text = re.sub(r"\{[^}]*\}", "", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", "", text)  # ranges
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    words = set(re.findall(r"[A-Za-z_:][A-Za-z0-9_:]*", text))
    return {w for w in words if w.lower() not in PROMQL and not w.startswith("$")}


def dashboard_exprs() -> list[str]:
    """Every query of the dashboard."""
    dashboard = json.loads((DEPLOY / "grafana" / "vm-inventory.json").read_text())
    return [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]


def alert_exprs() -> list[str]:
    """Every alert's expression."""
    groups = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yaml").read_text())["groups"]
    return [rule["expr"] for group in groups for rule in group["rules"]]


def exported(text: str) -> set[str]:
    """The series names a /metrics page holds, with each histogram's and counter's suffixes."""
    names = {line.split("{")[0].split(" ")[0] for line in text.splitlines() if line[:1].isalpha()}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            suffixes = {"histogram": ("_bucket", "_sum", "_count"), "counter": ("_total",)}
            names |= {name + s for s in suffixes.get(kind, ("",))}
    return names


@pytest.fixture
async def scraped(client: AsyncTestClient[Any]) -> set[str]:
    """The metric names after a few requests of each kind (a VM, a miss, a list, an export)."""
    created = await client.post(
        BASE,
        json={"name": "dash-1", "os": "u", "cpu_cores": 1, "memory_mib": 512, "storage_gib": 1},
    )
    assert created.status_code in (201, 409)
    for path in (BASE, f"{BASE}/0123456789abcdef01234567", f"{BASE}/export"):
        await client.get(path)
    r = await client.get("/metrics")
    assert r.status_code == 200
    return exported(r.text)


def test_the_parser_finds_the_metrics_of_an_expression() -> None:
    expr = 'sum by (path, le) (rate(vm_inventory_x_bucket{path!~"a|b"}[5m])) / on(job) vm_y > 1'
    assert metric_names(expr) == {"vm_inventory_x_bucket", "vm_y"}


async def test_every_dashboard_metric_is_exported(scraped: set[str]) -> None:
    queried = set().union(*(metric_names(e) for e in dashboard_exprs()))
    assert queried, "the dashboard queries nothing"
    assert queried <= scraped, queried - scraped


async def test_every_alert_metric_is_exported(scraped: set[str]) -> None:
    queried = set().union(*(metric_names(e) for e in alert_exprs()))
    assert queried <= scraped, queried - scraped


async def test_the_dashboard_shows_what_operators_need() -> None:
    queried = " ".join(dashboard_exprs())
    for metric in (
        "vm_inventory_requests_total", "vm_inventory_request_duration_seconds_bucket",
        "vm_inventory_mongodb_ready", "vm_inventory_watchers", "vm_inventory_connections",
    ):  # fmt: skip
        assert metric in queried
    assert 'status_code="429"' in queried and 'path="/api/v1/vms/export"' in queried
    assert "histogram_quantile(0.99" in queried


async def test_limits_and_schema_gauges(
    client: AsyncTestClient[Any], settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = (await client.get("/metrics")).text
    assert f"vm_inventory_watch_max_clients {float(settings.watch_max_clients)}" in text
    assert f"vm_inventory_max_connections {float(settings.max_connections)}" in text
    assert "vm_inventory_schema_mismatch 0.0" in text
    guard = client.app.state.schema_guard

    async def unchanged() -> None:  # the guard's loop must not set its reason back meanwhile
        return None

    monkeypatch.setattr(guard, "refresh", unchanged)
    monkeypatch.setattr(guard, "reason", "the schema is at version 3, this code needs 9")
    text = (await client.get("/metrics")).text
    assert "vm_inventory_schema_mismatch 1.0" in text
    assert "vm_inventory_mongodb_ready 0.0" in text


def lock_age(text: str) -> float:
    """The migration lock's age a /metrics page reports."""
    (value,) = re.findall(r"^vm_inventory_migration_lock_age_seconds (\S+)$", text, re.M)
    return float(value)


async def test_the_migration_lock_age_is_the_live_holders_only(
    client: AsyncTestClient[Any], db: AsyncDatabase[dict[str, Any]]
) -> None:
    assert lock_age((await client.get("/metrics")).text) == 0.0
    locks = db[LOCK_COLLECTION]

    async def hold(acquired_ms_ago: int, expires_in_ms: int) -> float:
        """The age scraped while the lock is as a runner (MigrationLock) leaves it."""
        now = "$$NOW"
        held = {
            "owner": "stuck-runner:1",
            "acquired_at": {"$subtract": [now, acquired_ms_ago]},
            "expires_at": {"$add": [now, expires_in_ms]},
        }
        await locks.update_one({"_id": LOCK_ID}, [{"$set": held}], upsert=True)
        return lock_age((await client.get("/metrics")).text)

    try:
        # Taken 20 minutes ago by the server's clock, its lease still renewed.
        assert 1_200 <= await hold(1_200_000, 30_000) < 1_800
        # Its runner died: the lease lapsed, nobody holds the lock.
        assert await hold(1_200_000, -1_000) == 0.0
        assert 1 <= await hold(1_000, 30_000) < 600
    finally:
        await locks.delete_one({"_id": LOCK_ID})
    assert lock_age((await client.get("/metrics")).text) == 0.0
