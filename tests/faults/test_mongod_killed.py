"""MongoDB SIGKILLed during a stream of creates, then restarted on the same data."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
from pymongo import MongoClient

from bench.server_process import ServerProcess
from service.storage.mongod import LocalMongod, free_port
from tests.faults.load import CreateStream, vm_body


def test_mongod_killed_then_restarted_loses_no_acknowledged_create(tmp_path: Path) -> None:
    mongod = LocalMongod(tmp_path / "db", free_port())
    server = ServerProcess(mongod.url, "faults_killed")
    stream = CreateStream("", {})
    try:
        mongod.start()
        server.start()
        stream = CreateStream(server.base_url, server.headers).start()
        stream.wait_until(lambda: stream.count(201) >= 20, 30, "creates before the kill")

        mongod.kill()
        killed = time.time()
        # While MongoDB is down every call answers 503 (problem+json) within 5 s: no hang.
        with httpx.Client(base_url=server.base_url, headers=server.headers, timeout=5) as client:
            for method, path in [("GET", "/health/ready"), ("GET", "/api/v1/vms")] * 2:
                response = client.request(method, path)
                assert response.status_code == 503, response.text
                assert response.headers["content-type"].startswith("application/problem+json")
            response = client.post("/api/v1/vms", json=vm_body("while-down"))
            assert response.status_code == 503, response.text
            assert client.get("/health/live").status_code == 200
        stream.wait_until(lambda: stream.count(503, since=killed) >= 2, 20, "503s while down")

        mongod.spawn()  # same port, same data
        mongod.wait_primary(60)
        restarted = time.time()
        server.wait_for("/health/ready", 60)  # recovers by itself: no restart of the service
        stream.wait_until(
            lambda: stream.count(201, since=restarted) >= 10, 60, "creates after the restart"
        )
        outcomes = stream.stop()

        assert {o.status for o in outcomes} <= {201, 503}, stream.summary()
        acknowledged = stream.created_names()
        with MongoClient(mongod.url, serverSelectionTimeoutMS=10000) as check:
            stored = {d["name"] for d in check["faults_killed"]["vms"].find({}, {"name": 1})}
        assert acknowledged <= stored, f"lost: {sorted(acknowledged - stored)[:10]}"
    finally:
        stream.stop()
        assert server.stop() == 0, server.output()
        mongod.kill()
