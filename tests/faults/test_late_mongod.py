"""The service started before its MongoDB: up at once, not ready, then ready by itself."""

from __future__ import annotations

from pathlib import Path

import httpx

from bench.server_process import ServerProcess
from service.storage.mongod import LocalMongod, free_port
from tests.faults.load import vm_body


def test_service_started_before_mongod_becomes_ready_without_restart(tmp_path: Path) -> None:
    mongod = LocalMongod(tmp_path / "db", free_port())
    server = ServerProcess(mongod.url, "faults_late")
    try:
        # /health/live answers although no mongod runs (the API key comes once it does).
        server.start(wait_ready=False)
        ready = httpx.get(server.base_url + "/health/ready", timeout=5)
        assert ready.status_code == 503
        assert ready.headers["content-type"].startswith("application/problem+json")

        mongod.start()
        server.wait_for("/health/ready", 60)
        server.token = server.create_api_key("late")
        with httpx.Client(base_url=server.base_url, headers=server.headers, timeout=10) as client:
            created = client.post("/api/v1/vms", json=vm_body("late-1"))
            assert created.status_code == 201, created.text
            fetched = client.get(f"/api/v1/vms/{created.json()['id']}")
            assert fetched.json()["name"] == "late-1"
    finally:
        assert server.stop() == 0, server.output()
        mongod.kill()
