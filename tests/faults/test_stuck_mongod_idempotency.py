"""Idempotent creates answered 503 while MongoDB is stuck (SIGSTOP) are retried with the same key
once it answers again: each retry creates its VM (not 409 in flight), none twice."""

from __future__ import annotations

import os
import signal
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from bench.server_process import ServerProcess
from service.storage.mongod import LocalMongod, free_port
from tests.faults.load import vm_body

CREATES = 8


def test_creates_answered_503_while_mongod_was_stuck_are_retried_with_their_keys(
    tmp_path: Path,
) -> None:
    mongod = LocalMongod(tmp_path / "db", free_port())
    server = ServerProcess(mongod.url, "faults_stuck_idem", MONGODB_TIMEOUT_MS="1000")
    stopped = False
    try:
        mongod.start()
        server.start()
        assert mongod.process is not None
        with httpx.Client(base_url=server.base_url, headers=server.headers, timeout=15) as client:

            def create(i: int) -> httpx.Response:
                headers = {"Idempotency-Key": f"stuck-key-{i}"}
                return client.post("/api/v1/vms", json=vm_body(f"stuck-{i}"), headers=headers)

            assert client.get("/api/v1/vms").status_code == 200  # the API key is cached
            os.kill(mongod.process.pid, signal.SIGSTOP)
            stopped = True
            with ThreadPoolExecutor(CREATES) as pool:
                during = list(pool.map(create, range(CREATES)))
            assert [r.status_code for r in during] == [503] * CREATES, [r.text for r in during]

            os.kill(mongod.process.pid, signal.SIGCONT)
            stopped = False
            server.wait_for("/health/ready", 30)
            with ThreadPoolExecutor(CREATES) as pool:
                retries = list(pool.map(create, range(CREATES)))
            assert [r.status_code for r in retries] == [201] * CREATES, [r.text for r in retries]
            ids = [r.json()["id"] for r in retries]
            again = [create(i) for i in range(CREATES)]
            assert [r.json()["id"] for r in again] == ids
            assert all(r.headers["idempotent-replayed"] == "true" for r in again)
            listed = client.get("/api/v1/vms", params={"page_size": 100}).json()["items"]
            names = sorted(vm["name"] for vm in listed)
            assert names == sorted(f"stuck-{i}" for i in range(CREATES))  # each VM once
    finally:
        if stopped and mongod.process is not None:
            os.kill(mongod.process.pid, signal.SIGCONT)
        assert server.stop() == 0, server.output()
        mongod.kill()
