"""SIGTERM ends every open WatchVMs stream at once, cleanly, and the server exits."""

from __future__ import annotations

import uuid

import httpx

from bench.server_process import ServerProcess
from tests.e2e.sse import Watch


async def test_sigterm_ends_open_streams_with_a_final_event(mongo_url: str) -> None:
    server = ServerProcess(mongo_url, f"e2e_{uuid.uuid4().hex[:8]}").start()
    try:
        async with (
            httpx.AsyncClient(base_url=server.base_url, headers=server.headers, timeout=30) as http,
            Watch(http) as first,
            Watch(http, {"status": "running"}) as second,
        ):
            for stream in (first, second):
                opened = await stream.next()
                assert opened is not None and opened.event == "BOOKMARK"
            server.terminate()
            for stream in (first, second):
                final = await stream.next()
                assert final is not None and final.event == "ERROR", final
                assert final.data["status"] == 503
                assert final.data["reason"] == "shutting-down"
                assert final.data["resume_token"] == opened.id or final.data["resume_token"]
                assert await stream.next() is None  # the response ended properly
        assert server.wait() == 0
    finally:
        server.stop()
    assert "timeout graceful shutdown exceeded" not in server.output()
