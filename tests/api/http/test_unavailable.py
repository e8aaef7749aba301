"""MongoDB unreachable: a quick 503 with Retry-After, never a hang."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from service.config import Settings
from service.http.app import create_app
from service.storage.mongod import free_port
from tests.api.helpers import BASE, assert_problem, vm_body


@pytest.fixture(scope="module")
async def down_client() -> AsyncIterator[AsyncTestClient[Any]]:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        mongodb_url=f"mongodb://127.0.0.1:{free_port()}/?directConnection=true",
        mongodb_timeout_ms=300,
    )
    async with AsyncTestClient(app=create_app(settings)) as client:
        # Checking the key needs MongoDB too: that lookup is what answers 503 here.
        client.headers["Authorization"] = "Bearer vmi_some-key"
        yield client


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", BASE, vm_body()),
        ("GET", BASE, None),
        ("GET", f"{BASE}/665f1c2e8b3e4a0012345678", None),
        ("PUT", f"{BASE}/665f1c2e8b3e4a0012345678", vm_body()),
        ("PATCH", f"{BASE}/665f1c2e8b3e4a0012345678", {"os": "x"}),
        ("DELETE", f"{BASE}/665f1c2e8b3e4a0012345678", None),
        ("GET", "/health/ready", None),
    ],
)
async def test_database_down_is_503_with_retry_after(
    down_client: AsyncTestClient[Any], method: str, path: str, body: Any
) -> None:
    started = time.monotonic()
    response = await down_client.request(method, path, json=body)
    # A generous bound: the point is "no hang", the configured timeout is 0.3 s.
    assert time.monotonic() - started < 10
    assert_problem(response, 503)
    assert int(response.headers["retry-after"]) > 0


async def test_liveness_does_not_need_the_database(down_client: AsyncTestClient[Any]) -> None:
    assert (await down_client.get("/health/live")).status_code == 200
