"""The service started while its mongod answers but its replica set is not initiated yet.

Such a mongod answers `ping`, yet a connection opened to it then never supports sessions: a
pooled one would fail every transaction later (CreateVM: 500) although /health/ready says 200.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from pymongo import AsyncMongoClient, MongoClient
from pymongo.errors import PyMongoError

from service.config import Settings
from service.domain.apikeys import Scope
from service.http.app import create_app
from service.storage.api_keys import ApiKeyRepository
from service.storage.client import answers
from service.storage.migrations import cli as migrate_cli
from service.storage.mongod import LocalMongod, free_port
from tests.faults.load import vm_body

UNINITIATED_SECONDS = 2.0  # how long requests keep arriving before the set is initiated


@pytest.fixture
def uninitiated(tmp_path: Path) -> Iterator[LocalMongod]:
    """A mongod started with --replSet that answers pings, its set not initiated."""
    mongod = LocalMongod(tmp_path / "db", free_port())
    mongod.spawn()
    client: MongoClient[dict[str, Any]] = MongoClient(
        mongod.direct_url, serverSelectionTimeoutMS=500
    )
    deadline = time.monotonic() + 60
    try:
        while True:
            try:
                hello = client.admin.command("hello")
                assert "setName" not in hello  # the set really is uninitiated
                break
            except PyMongoError:
                assert time.monotonic() < deadline, "mongod did not start"
                time.sleep(0.1)
    finally:
        client.close()
    try:
        yield mongod
    finally:
        mongod.kill()


@pytest.mark.parametrize("kind", ["direct_url", "url"])
async def test_requests_before_initiation_leave_transactions_working(
    uninitiated: LocalMongod, kind: str
) -> None:
    """MONGODB_URL with directConnection (any server type) and LocalMongod's replica set URL."""
    # One pooled connection: the driver never discards it, so if it was opened before the set
    # was initiated every later transaction would fail, not only those that happen to get it.
    url = getattr(uninitiated, kind) + "&maxPoolSize=1"
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        mongodb_url=url,
        mongodb_db="late_init",
        migrate_on_start=True,
        schema_check_seconds=0.2,
        # Generous: a timeout closes the connection it hit, which would hide a stale one here.
        mongodb_timeout_ms=10_000,
    )
    check = functools.partial(migrate_cli.check_on_start, settings, url)
    async with AsyncTestClient(app=create_app(settings, check)) as client:
        # Probes and clients polling with a token (keys live in the database, so no token can be
        # valid yet) while the set is uninitiated: 503, never 401 or 500. /metrics answers, with
        # the readiness gauge at 0 (and without touching MongoDB).
        client.headers["Authorization"] = "Bearer vmi_not-a-key-yet"
        until = time.monotonic() + UNINITIATED_SECONDS
        while time.monotonic() < until:
            metrics = await client.get("/metrics")
            assert metrics.status_code == 200, metrics.text
            assert "vm_inventory_mongodb_ready 0.0" in metrics.text
            for method, path in [
                ("GET", "/health/ready"),
                ("GET", "/api/v1/vms"),
                ("POST", "/api/v1/vms"),
                ("GET", "/api/v1/vms/665f1c2e8b3e4a0012345678/events"),
            ]:
                body = vm_body("early") if method == "POST" else None
                response = await client.request(method, path, json=body)
                assert response.status_code == 503, (method, path, response.text)
            await asyncio.sleep(0.1)

        await asyncio.to_thread(uninitiated.wait_primary)
        deadline = time.monotonic() + 60
        while (await client.get("/health/ready")).status_code != 200:
            assert time.monotonic() < deadline, "not ready 60 s after the set was initiated"
            await asyncio.sleep(0.1)

        keys_client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(url)
        try:
            token = await ApiKeyRepository(keys_client[settings.mongodb_db]).create(
                "late", Scope.ADMIN
            )
        finally:
            await keys_client.close()
        client.headers["Authorization"] = f"Bearer {token}"
        created = [await client.post("/api/v1/vms", json=vm_body(f"late-{i}")) for i in range(3)]
        created += await asyncio.gather(
            *(client.post("/api/v1/vms", json=vm_body(f"late-many-{i}")) for i in range(8))
        )
        assert [r.status_code for r in created] == [201] * len(created), [r.text for r in created]
        listed = await client.get("/api/v1/vms", params={"page_size": 100})
        assert listed.status_code == 200, listed.text


async def test_answers_only_once_the_set_has_a_writable_primary(
    uninitiated: LocalMongod,
) -> None:
    settings = Settings(_env_file=None, mongodb_timeout_ms=500)  # type: ignore[call-arg]
    # `serve` defers its migration check unless MongoDB answers: a pingable but uninitiated
    # mongod does not count, or the check would fail and serve would exit.
    assert not await answers(uninitiated.direct_url, settings)
    await asyncio.to_thread(uninitiated.wait_primary)
    assert await answers(uninitiated.direct_url, settings)
    assert await answers(uninitiated.url, settings)
