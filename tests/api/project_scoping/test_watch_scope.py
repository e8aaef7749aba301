"""WatchVMs against the real server: a watcher sees the events of the projects its key reads,
never another project's, and naming a project the key may not read is 403 naming `project`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from bench.server_process import ServerProcess
from service.domain.apikeys import Scope
from service.storage.api_keys import ApiKeyRepository
from tests.api.helpers import BASE, assert_problem, bearer, vm_body
from tests.api.project_scoping.conftest import PROJECTS, A, B
from tests.e2e.servers import admin_client, own_server
from tests.e2e.sse import Event, Watch


@pytest.fixture(scope="module")
def watch_server(mongo_url: str) -> Iterator[ServerProcess]:
    """A server of its own, with a short heartbeat."""
    with own_server(
        mongo_url, "scoping_watch", WATCH_HEARTBEAT_SECONDS="0.5", RATE_LIMIT_PER_MINUTE="1000000"
    ) as process:
        yield process


@pytest.fixture
async def http(watch_server: ServerProcess) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the server (admin key); projects A and B exist."""
    async with admin_client(watch_server) as client:
        for name in (A, B):
            r = await client.post(PROJECTS, json={"name": name})
            assert r.status_code in (201, 409), r.text
        yield client


@pytest.fixture
async def keys(watch_server: ServerProcess, mongo_url: str) -> AsyncIterator[dict[str, Any]]:
    """Headers of keys: write-a, write-b, read-b (restricted), read-all."""
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url)
    try:
        db = mongo[watch_server.env["MONGODB_DB"]]
        await db.api_keys.delete_many({"name": {"$regex": "^watch-"}})
        repo = ApiKeyRepository(db)
        yield {
            "write-a": bearer(await repo.create("watch-write-a", Scope.WRITE, [A])),
            "write-b": bearer(await repo.create("watch-write-b", Scope.WRITE, [B])),
            "read-b": bearer(await repo.create("watch-read-b", Scope.READ, [B])),
            "read-all": bearer(await repo.create("watch-read-all", Scope.READ)),
        }
    finally:
        await mongo.close()


async def _write(http: httpx.AsyncClient, method: str, path: str, key: Any, **kw: Any) -> Any:
    r = await http.request(method, path, headers=key, **kw)
    assert r.status_code in (200, 201, 204), r.text
    return r.json() if r.content else None


def _seen(events: list[Event]) -> list[tuple[str, str, str]]:
    return [(e.event, e.data["vm"]["project"], e.data["vm"]["name"]) for e in events]


async def _a_writes(http: httpx.AsyncClient, key: Any, name: str) -> None:
    """Create, change, delete, restore, purge a VM of A."""
    vm = await _write(http, "POST", BASE, key, json=vm_body(name=name))
    path = f"{BASE}/{vm['id']}"
    await _write(http, "PATCH", path, key, json={"description": "changed"})
    await _write(http, "DELETE", path, key)
    await _write(http, "POST", f"{path}/restore", key)
    await _write(http, "DELETE", path, key, params={"force": "true"})


@pytest.mark.parametrize("params", [{}, {"project": B}], ids=["default", "project=b"])
async def test_a_b_watcher_never_sees_a_events(
    http: httpx.AsyncClient, keys: dict[str, Any], params: dict[str, Any]
) -> None:
    async with (
        Watch(http, params, headers=keys["read-b"]) as b_watch,
        Watch(http, {"project": [A, B]}, headers=keys["read-all"]) as all_watch,
    ):
        assert b_watch.response.status_code == 200
        await _a_writes(http, keys["write-a"], "a-first")
        b_vm = await _write(http, "POST", BASE, keys["write-b"], json=vm_body(name="b-only"))
        await _a_writes(http, keys["write-a"], "a-second")
        await _write(http, "PATCH", f"{BASE}/{b_vm['id']}", keys["write-b"], json={"os": "x"})

        # The unrestricted watcher saw everything, in order: A's events happened in between.
        every = _seen(await all_watch.changes(12))
        assert [e for e in every if e[1] == A][:1] == [("ADDED", A, "a-first")]
        assert every.index(("ADDED", B, "b-only")) == 5
        assert every[-1] == ("MODIFIED", B, "b-only")
        # The B watcher: only B's two events, nothing of A before or between them.
        assert _seen(await b_watch.changes(2)) == [
            ("ADDED", B, "b-only"),
            ("MODIFIED", B, "b-only"),
        ]
    await _write(http, "DELETE", f"{BASE}/{b_vm['id']}", keys["write-b"],
                 params={"force": "true"})  # fmt: skip


@pytest.mark.parametrize("project", [[A], [B, A], ["default"]], ids=["a", "b-and-a", "default"])
async def test_watching_a_project_the_key_may_not_read_is_403(
    http: httpx.AsyncClient, keys: dict[str, Any], project: list[str]
) -> None:
    r = await http.get(f"{BASE}/watch", params={"project": project}, headers=keys["read-b"])
    problem = assert_problem(r, 403, "project")
    assert project[-1] in problem["detail"]
