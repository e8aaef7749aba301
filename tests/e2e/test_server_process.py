"""The production command serves the API."""

import uuid

import httpx

from bench.server_process import ServerProcess


def test_serve_answers_and_stops_cleanly(mongo_url: str) -> None:
    server = ServerProcess(mongo_url, f"e2e_{uuid.uuid4().hex[:8]}").start()
    try:
        assert httpx.get(server.base_url + "/health/live").json() == {"status": "ok"}
        assert httpx.get(server.base_url + "/health/ready").status_code == 200
    finally:
        assert server.stop() == 0
