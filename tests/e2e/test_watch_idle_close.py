"""A server nobody watches holds no change stream on MongoDB (WATCH_IDLE_CLOSE_SECONDS); the next
watch opens it again and gets every change after its request, and ListVMs' watch_token still
resumes across the closed period."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from bench.server_process import ServerProcess
from tests.e2e.servers import admin_client, own_server
from tests.e2e.sse import Watch

WAIT_S = 30.0  # only a bound on waiting for a state, never a measured duration


@pytest.fixture(scope="module")
def idle_server(mongo_url: str) -> Iterator[ServerProcess]:
    """A server of its own whose change stream closes after 0.3 s without a watcher."""
    with own_server(
        mongo_url, "e2e_idle", WATCH_IDLE_CLOSE_SECONDS="0.3", WATCH_HEARTBEAT_SECONDS="0.5",
        RATE_LIMIT_PER_MINUTE="1000000",
    ) as process:  # fmt: skip
        yield process


@pytest.fixture
async def http(idle_server: ServerProcess) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of the server with its admin key."""
    async with admin_client(idle_server) as client:
        yield client


async def _streams(mongo_url: str, db: str) -> int:
    """The change streams open on `db.vms` (cursors of the service's client)."""
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url)
    try:
        stream = "cursor.originatingCommand.pipeline.0.$changeStream"
        current = {"$currentOp": {"idleCursors": True, "allUsers": True}}
        match = {"$match": {"ns": f"{db}.vms", stream: {"$exists": True}}}
        ops = await (await mongo.admin.aggregate([current, match])).to_list()
        return len(ops)
    finally:
        await mongo.close()


async def _until_streams(mongo_url: str, db: str, count: int) -> None:
    async with asyncio.timeout(WAIT_S):
        while await _streams(mongo_url, db) != count:  # noqa: ASYNC110 - MongoDB's state, polled
            await asyncio.sleep(0.1)


async def _create(http: httpx.AsyncClient, name: str) -> dict[str, Any]:
    body = {"name": name, "os": "ubuntu", "cpu_cores": 1, "memory_mib": 512, "storage_gib": 5}
    answer = await http.post("/api/v1/vms", json=body)
    assert answer.status_code == 201, answer.text
    vm: dict[str, Any] = answer.json()
    return vm


async def test_an_unwatched_server_closes_its_stream_and_the_next_watch_misses_nothing(
    http: httpx.AsyncClient, idle_server: ServerProcess, mongo_url: str
) -> None:
    db = idle_server.env["MONGODB_DB"]
    await _until_streams(mongo_url, db, 0)
    tag = uuid.uuid4().hex[:8]
    await _create(http, f"unseen-{tag}")  # while nobody watches
    async with Watch(http, {"name_prefix": f"seen-{tag}"}) as stream:
        assert stream.response.status_code == 200
        assert await _streams(mongo_url, db) == 1
        names = [f"seen-{tag}-{i}" for i in range(5)]
        for name in names:
            await _create(http, name)
        events = await stream.changes(5)
    assert [e.data["vm"]["name"] for e in events] == names
    await _until_streams(mongo_url, db, 0)  # the last watcher left


async def test_a_list_token_resumes_across_the_closed_stream(
    http: httpx.AsyncClient, idle_server: ServerProcess, mongo_url: str
) -> None:
    db = idle_server.env["MONGODB_DB"]
    tag = uuid.uuid4().hex[:8]
    token = (await http.get("/api/v1/vms", params={"page_size": 1})).json()["watch_token"]
    await _until_streams(mongo_url, db, 0)
    made = [await _create(http, f"gap-{tag}-{i}") for i in range(3)]  # nobody watches
    params = {"name_prefix": f"gap-{tag}", "resume_token": token}
    async with Watch(http, params) as stream:
        assert stream.response.status_code == 200
        events = await stream.changes(3)
        later = await _create(http, f"gap-{tag}-3")
        events += await stream.changes(1)
    assert [e.data["vm"]["id"] for e in events] == [vm["id"] for vm in [*made, later]]
