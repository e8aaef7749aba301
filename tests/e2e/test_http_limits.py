"""The real server bounds a request's head: oversized headers get 431 before being buffered."""

import socket
import uuid

import httpx

from bench.server_process import ServerProcess
from tests.e2e.sockets import read_until_closed


def test_oversized_heads_are_refused_and_normal_requests_keep_working(mongo_url: str) -> None:
    server = ServerProcess(mongo_url, f"e2e_{uuid.uuid4().hex[:8]}").start()
    try:
        with httpx.Client(base_url=server.base_url, headers=server.headers, timeout=10) as client:
            # Over MAX_HEADER_BYTES but within the protocol's bound: the app's problem+json 431.
            r = client.get("/api/v1/vms", headers={"X-Filler": "x" * 20_000})
            assert r.status_code == 431
            assert r.headers["content-type"].startswith("application/problem+json")
            # Keep-alive: several requests on one connection still pass.
            assert [client.get("/api/v1/vms").status_code for _ in range(3)] == [200] * 3

        # A head that never ends: refused once it passes the bound, connection closed.
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(b"GET /api/v1/vms HTTP/1.1\r\nHost: x\r\nX-Filler: ")
            # Just past the bound (MAX_HEADER_BYTES + MAX_QUERY_BYTES + 16 KiB = 36 KiB), so the
            # server has read everything when it closes.
            sock.sendall(b"x" * 40_000)
            answer = read_until_closed(sock)
        assert answer.startswith(b"HTTP/1.1 431"), answer[:100]
        assert b"application/problem+json" in answer
        assert httpx.get(server.base_url + "/health/live").status_code == 200

        # A short head and a long body sent at once: the body is the app's to judge, not a 431.
        body = b'{"name": "' + b"x" * 100_000 + b'"}'
        head = (
            f"POST /api/v1/vms HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Authorization: Bearer {server.token}\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n"
        )
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(head.encode() + body)
            answer = read_until_closed(sock)
        assert answer.startswith(b"HTTP/1.1 400"), answer[:200]
    finally:
        assert server.stop() == 0
