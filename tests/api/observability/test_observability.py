"""X-Request-ID, the JSON access log, Prometheus metrics and the per-key rate limit."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from prometheus_client import CONTENT_TYPE_LATEST

from service.config import Settings
from service.domain.apikeys import Scope
from service.http.app import create_app
from service.http.logs import JsonFormatter
from service.storage.api_keys import ApiKeyRepository
from tests.api.helpers import BASE, assert_problem

MISSING = f"{BASE}/0123456789abcdef01234567"


async def test_request_id_is_echoed_or_generated(client: AsyncTestClient[Any]) -> None:
    r = await client.get(BASE, headers={"X-Request-ID": "trace-42.a"})
    assert r.headers["x-request-id"] == "trace-42.a"
    for headers in ({}, {"X-Request-ID": "no spaces allowed"}, {"X-Request-ID": "x" * 200}):
        r = await client.get(MISSING, headers=headers)
        assert r.status_code == 404
        assert re.fullmatch(r"[0-9a-f]{32}", r.headers["x-request-id"])
    r = await client.get(BASE, headers={"Authorization": "", "X-Request-ID": "denied-1"})
    assert r.status_code == 401
    assert r.headers["x-request-id"] == "denied-1"


async def test_one_json_access_line_per_request_without_the_token(
    client: AsyncTestClient[Any], admin_token: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="service.access"):
        await client.get(MISSING, headers={"X-Request-ID": "log-1"})
        await client.get(
            BASE, headers={"Authorization": "Bearer vmi_wrong", "X-Request-ID": "log-2"}
        )
    lines = [
        json.loads(JsonFormatter().format(r)) for r in caplog.records if r.name == "service.access"
    ]
    assert len(lines) == 2
    first, second = lines
    assert first["method"] == "GET"
    assert first["route"] == "/api/v1/vms/{vm_id}"
    assert first["status"] == 404
    assert first["request_id"] == "log-1"
    assert first["key"] == "test-admin"
    assert first["duration_ms"] >= 0
    assert (second["status"], second["key"], second["request_id"]) == (401, None, "log-2")
    text = caplog.text + "".join(json.dumps(line) for line in lines)
    assert admin_token not in text and "vmi_wrong" not in text


async def test_metrics_count_requests_by_route_and_status(client: AsyncTestClient[Any]) -> None:
    await client.get(MISSING)
    await client.get(MISSING, headers={"Authorization": ""})
    r = await client.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    text = r.text
    for status in (404, 401):
        assert re.search(
            rf'vm_inventory_requests_total\{{[^}}]*path="/api/v1/vms/\{{vm_id\}}"'
            rf'[^}}]*status_code="{status}"[^}}]*\}} [1-9]',
            text,
        ), status
    assert "vm_inventory_request_duration_seconds_bucket{" in text
    assert "vm_inventory_mongodb_ready 1.0" in text


async def test_metrics_content_type_is_prometheus_own(client: AsyncTestClient[Any]) -> None:
    # Litestar appends the charset to text/ types: once, not twice.
    for method in ("GET", "HEAD"):
        r = await client.request(method, "/metrics")
        assert r.headers["content-type"] == CONTENT_TYPE_LATEST, method


@pytest.mark.parametrize("unready", ["starting", "schema"])
async def test_metrics_are_served_while_not_ready(
    client: AsyncTestClient[Any], unready: str
) -> None:
    """A scrape is what shows the service is not ready: it never gets the API's 503."""
    state = client.app.state
    if unready == "starting":
        state.not_ready = "waiting for MongoDB and the migration check"
    else:
        state.schema_guard.reason = "the schema is being rolled back"
    try:
        assert_problem(await client.get("/health/ready"), 503)
        r = await client.get("/metrics")
        assert r.status_code == 200
        assert "vm_inventory_mongodb_ready 0.0" in r.text
        assert "vm_inventory_requests_total{" in r.text
    finally:
        state.not_ready = None
        state.schema_guard.reason = None
    assert "vm_inventory_mongodb_ready 1.0" in (await client.get("/metrics")).text


@pytest.fixture
async def strict_app(settings: Settings) -> AsyncIterator[AsyncTestClient[Any]]:
    app = create_app(
        settings.model_copy(update={"rate_limit_per_minute": 3, "metrics_public": False})
    )
    async with AsyncTestClient(app=app) as fresh:
        yield fresh


async def test_rate_limit_per_key_is_429_with_retry_after(
    strict_app: AsyncTestClient[Any], api_keys: ApiKeyRepository
) -> None:
    first = {"Authorization": f"Bearer {await api_keys.create('rl-first', Scope.READ)}"}
    other = {"Authorization": f"Bearer {await api_keys.create('rl-other', Scope.READ)}"}
    statuses = [(await strict_app.get(BASE, headers=first)) for _ in range(10)]
    limited = [r for r in statuses if r.status_code == 429]
    # Limit 3 per clock minute: even if a minute boundary passes, most of the 10 are refused.
    assert len(limited) >= 4
    problem = assert_problem(limited[0], 429)
    assert "per minute" in problem["detail"]
    assert 1 <= int(limited[0].headers["retry-after"]) <= 60
    assert (await strict_app.get(BASE, headers=other)).status_code == 200
    assert (await strict_app.get("/health/live")).status_code == 200


async def test_rate_limit_budget_is_per_key_across_routes(
    strict_app: AsyncTestClient[Any], api_keys: ApiKeyRepository
) -> None:
    headers = {"Authorization": f"Bearer {await api_keys.create('rl-routes', Scope.READ)}"}
    paths = [BASE, f"{BASE}/{'0' * 24}", "/api/v1/projects", f"{BASE}/{'1' * 24}/events"]
    statuses = [(await strict_app.get(path, headers=headers)).status_code for path in paths * 3]
    # 3 per clock minute for the key, whichever routes it calls: of 12 requests spread over four
    # routes, at most 6 pass even if a minute boundary falls between them.
    assert statuses.count(429) >= 6, statuses


async def test_metrics_can_require_a_key(
    strict_app: AsyncTestClient[Any], admin_token: str
) -> None:
    assert_problem(await strict_app.get("/metrics"), 401)
    r = await strict_app.get("/metrics", headers={"Authorization": f"Bearer {admin_token}"})
    assert r.status_code == 200
