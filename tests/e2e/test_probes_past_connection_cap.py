"""Health probes are answered when MAX_CONNECTIONS is reached; nothing else is (issue 20, 3)."""

from __future__ import annotations

import socket
import uuid

import pytest

from bench.server_process import ServerProcess
from tests.e2e.sockets import read_until_closed

CAP = 10


def request(port: int, path: str, token: str = "") -> bytes:
    """One GET on a new connection: everything the server sends until it closes it."""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        auth = f"Authorization: Bearer {token}\r\n" if token else ""
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n{auth}\r\n".encode())
        return read_until_closed(sock)


@pytest.mark.parametrize("probe", ["/health/live", "/health/ready"])
def test_probes_are_answered_while_every_connection_is_taken(mongo_url: str, probe: str) -> None:
    server = ServerProcess(
        mongo_url, f"e2e_{uuid.uuid4().hex[:8]}", MAX_CONNECTIONS=str(CAP),
        HEADER_TIMEOUT_SECONDS="600", KEEP_ALIVE_TIMEOUT_SECONDS="600",
    ).start()  # fmt: skip
    held: list[socket.socket] = []
    try:
        for _ in range(CAP):  # e.g. one key's watches and kept-alive clients
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=60)
            held.append(sock)
            sock.sendall(b"GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n")
            assert sock.recv(65536).startswith(b"HTTP/1.1 200")
        for _ in range(3):  # again and again: each probe's connection is closed after it
            answer = request(server.port, probe)
            assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
        refused = request(server.port, "/api/v1/vms", server.token)
        assert refused.startswith(b"HTTP/1.1 503"), refused[:200]
        assert b"application/problem+json" in refused
    finally:
        for sock in held:
            sock.close()
        assert server.stop() == 0, server.output()
