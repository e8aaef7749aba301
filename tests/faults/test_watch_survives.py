"""WatchVMs survives MongoDB faults: every committed change reaches a connected watcher once."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from bench.server_process import ServerProcess
from service.storage.mongod import LocalMongod, free_port
from tests.e2e.sse import EventStream, Watch
from tests.faults.cluster import ReplicaSet


async def _patch_until_ok(http: httpx.AsyncClient, vm_id: str, text: str) -> int:
    """PATCH until it answers 200 (503 while MongoDB is away); the new revision."""
    for _ in range(300):
        try:
            answer = await http.patch(f"/api/v1/vms/{vm_id}", json={"description": text})
        except httpx.HTTPError:
            answer = None
        if answer is not None and answer.status_code == 200:
            revision: int = answer.json()["revision"]
            return revision
        await asyncio.sleep(0.2)
    raise AssertionError("MongoDB never came back")


async def _revisions(stream: EventStream, upto: int) -> list[int]:
    seen: list[int] = []
    while not seen or seen[-1] < upto:
        event = await stream.next()
        assert event is not None
        assert event.event in ("MODIFIED", "BOOKMARK"), event
        if event.event == "MODIFIED":
            seen.append(event.data["revision"])
    return seen


async def _watch_through(server: ServerProcess, fault: Any) -> None:
    """Writes before `fault()` and after recovery; the open watch sees each exactly once."""
    async with httpx.AsyncClient(
        base_url=server.base_url, headers=server.headers, timeout=10
    ) as http:
        name = f"f-{uuid.uuid4().hex[:8]}"
        body = {"name": name, "os": "x", "cpu_cores": 1, "memory_mib": 512, "storage_gib": 1}
        vm = (await http.post("/api/v1/vms", json=body)).json()
        async with Watch(http, {"name_prefix": name}) as stream:
            for i in range(5):
                await _patch_until_ok(http, vm["id"], f"before {i}")
            assert await _revisions(stream, 6) == [2, 3, 4, 5, 6]
            await asyncio.to_thread(fault)
            last = 6
            for i in range(5):
                last = await _patch_until_ok(http, vm["id"], f"after {i}")
            assert await _revisions(stream, last) == list(range(7, last + 1))


async def test_watch_survives_a_mongod_sigkill_and_restart(tmp_path: Path) -> None:
    mongod = LocalMongod(tmp_path / "db", free_port())
    server = ServerProcess(mongod.url, "faults_watch", WATCH_HEARTBEAT_SECONDS="1")

    def restart() -> None:
        mongod.kill()
        time.sleep(1)
        mongod.spawn()
        mongod.wait_primary(60)

    try:
        mongod.start()
        server.start()
        await _watch_through(server, restart)
    finally:
        assert server.stop() == 0
        mongod.stop()


async def test_watch_survives_a_replica_set_failover(tmp_path: Path) -> None:
    replica_set = ReplicaSet(tmp_path).start()
    server = ServerProcess(replica_set.url, "faults_watch_rs", WATCH_HEARTBEAT_SECONDS="1")

    def fail_over() -> None:
        old = replica_set.primary()
        old.kill()
        deadline = time.monotonic() + 60
        while replica_set.primary() is old and time.monotonic() < deadline:
            time.sleep(0.2)

    try:
        server.start()
        await _watch_through(server, fail_over)
    finally:
        assert server.stop() == 0
        replica_set.kill()
