"""`serve --workers 2` started before its MongoDB: every worker becomes ready by itself."""

from __future__ import annotations

from pathlib import Path

import httpx

from bench.server_process import ServerProcess
from service.storage.mongod import LocalMongod, free_port


def test_workers_started_before_mongod_become_ready_without_restart(tmp_path: Path) -> None:
    mongod = LocalMongod(tmp_path / "db", free_port())
    server = ServerProcess(mongod.url, "faults_late_workers", WORKERS="2")
    try:
        server.start(wait_ready=False)
        ready = httpx.get(server.base_url + "/health/ready", timeout=5)
        assert ready.status_code == 503

        mongod.start()
        server.wait_for("/health/ready", 60)
        # A fresh connection per request reaches either worker: all must be ready now or soon.
        for _ in range(20):
            server.wait_for("/health/ready", 60)
        server.token = server.create_api_key("late")
        for _ in range(6):
            listed = httpx.get(server.base_url + "/api/v1/vms", headers=server.headers, timeout=10)
            assert listed.status_code == 200, listed.text + server.output()
    finally:
        assert server.stop() == 0, server.output()
        mongod.kill()
