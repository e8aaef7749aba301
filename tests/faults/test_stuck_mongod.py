"""MongoDB stuck (SIGSTOP: connections open, no answers): 503 within the timeout, then recovery."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import httpx

from bench.server_process import ServerProcess
from service.storage.mongod import LocalMongod, free_port
from tests.faults.load import vm_body


def test_stuck_mongod_answers_503_not_a_hang(tmp_path: Path) -> None:
    mongod = LocalMongod(tmp_path / "db", free_port())
    server = ServerProcess(mongod.url, "faults_stuck", MONGODB_TIMEOUT_MS="1000")
    stopped = False
    try:
        mongod.start()
        server.start()
        assert mongod.process is not None
        # The client's timeout bounds the test: a hung request fails it instead of blocking it.
        with httpx.Client(base_url=server.base_url, headers=server.headers, timeout=15) as client:
            created = client.post("/api/v1/vms", json=vm_body("stuck-1"))
            assert created.status_code == 201, created.text
            url = f"/api/v1/vms/{created.json()['id']}"

            os.kill(mongod.process.pid, signal.SIGSTOP)
            stopped = True
            for method, path, body in [
                ("GET", url, None),
                ("PATCH", url, {"description": "while stuck"}),
                ("POST", "/api/v1/vms", vm_body("stuck-2")),
                ("GET", "/health/ready", None),
            ]:
                response = client.request(method, path, json=body)
                assert response.status_code == 503, (method, path, response.text)
                assert response.headers["content-type"].startswith("application/problem+json")
                assert int(response.headers["retry-after"]) > 0

            os.kill(mongod.process.pid, signal.SIGCONT)
            stopped = False
            server.wait_for("/health/ready", 30)
            assert client.get(url).status_code == 200
    finally:
        if stopped and mongod.process is not None:
            os.kill(mongod.process.pid, signal.SIGCONT)
        assert server.stop() == 0, server.output()
        mongod.kill()
