"""Slow or idle clients are timed out, and connections past the cap are refused (slowloris)."""

from __future__ import annotations

import re
import socket
import uuid
from collections.abc import Iterator

import httpx
import pytest

from bench.server_process import ServerProcess
from tests.e2e.sockets import read_until_closed

COUNT = 30  # slow connections of each kind
VM = b'{"name": "NAME", "os": "ubuntu-24.04", "cpu_cores": 1, "memory_mib": 512, "storage_gib": 10}'
JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def server(mongo_url: str) -> Iterator[ServerProcess]:
    """A server with short timeouts (the cap well above what the test opens)."""
    process = ServerProcess(
        mongo_url,
        f"e2e_{uuid.uuid4().hex[:8]}",
        HEADER_TIMEOUT_SECONDS="1",
        BODY_TIMEOUT_SECONDS="1",
        KEEP_ALIVE_TIMEOUT_SECONDS="1",
        MAX_CONNECTIONS="1000",
    ).start()
    try:
        yield process
    finally:
        assert process.stop() == 0, process.output()


def connect(port: int) -> socket.socket:
    """A connection whose reads give up after 60 s (far past every timeout under test)."""
    return socket.create_connection(("127.0.0.1", port), timeout=60)


def in_progress(server: ServerProcess) -> float:
    """The sum of the requests_in_progress gauge."""
    text = httpx.get(server.base_url + "/metrics", timeout=10).text
    pattern = r"^vm_inventory_requests_in_progress\{[^}]*\} (\S+)$"
    return sum(float(v) for v in re.findall(pattern, text, re.M))


def post_head(server: ServerProcess, length: int) -> bytes:
    """The head of a POST /api/v1/vms announcing a `length`-byte body."""
    return (
        f"POST /api/v1/vms HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {server.token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
    ).encode()


def test_connections_that_send_nothing_are_closed(server: ServerProcess) -> None:
    """Opened and idle: closed without an answer."""
    socks = [connect(server.port) for _ in range(COUNT)]
    try:
        assert [read_until_closed(s) for s in socks] == [b""] * COUNT
    finally:
        for s in socks:
            s.close()


@pytest.mark.parametrize(
    "partial",
    [b"G", b"GET /api/v1/vms HTT", b"GET /api/v1/vms HTTP/1.1\r\nHost: x\r\nX-Slow: 1"],
    ids=["first-byte", "request-line", "headers"],
)
def test_unfinished_heads_get_408(server: ServerProcess, partial: bytes) -> None:
    """A head that stops arriving: 408 problem+json, then close."""
    socks = [connect(server.port) for _ in range(COUNT)]
    try:
        for s in socks:
            s.sendall(partial)
        for s in socks:
            answer = read_until_closed(s)
            assert answer.startswith(b"HTTP/1.1 408"), answer[:100]
            assert b"application/problem+json" in answer
    finally:
        for s in socks:
            s.close()


def test_unfinished_bodies_get_408_and_release_their_requests(server: ServerProcess) -> None:
    """A body that stops arriving: 408, close, and the request no longer counts in progress."""
    body = VM.replace(b"NAME", b"slow")
    socks = [connect(server.port) for _ in range(COUNT)]
    try:
        for s in socks:
            s.sendall(post_head(server, len(body)) + body[:10])
        for s in socks:
            answer = read_until_closed(s)
            assert answer.startswith(b"HTTP/1.1 408"), answer[:100]
            assert b"application/problem+json" in answer
    finally:
        for s in socks:
            s.close()
    assert in_progress(server) <= 1  # the /metrics request itself


def test_idle_kept_alive_connections_are_closed(server: ServerProcess) -> None:
    """After a complete exchange, an idle kept-alive connection is closed."""
    socks = [connect(server.port) for _ in range(COUNT)]
    try:
        for s in socks:
            s.sendall(b"GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n")
        for s in socks:
            answer = read_until_closed(s)
            assert answer.startswith(b"HTTP/1.1 200"), answer[:100]
            assert answer.count(b"HTTP/1.1") == 1
    finally:
        for s in socks:
            s.close()


def test_prompt_clients_are_unaffected(server: ServerProcess) -> None:
    """A complete request with a body, and keep-alive requests in a row, still pass."""
    with httpx.Client(base_url=server.base_url, headers=server.headers, timeout=10) as client:
        created = client.post("/api/v1/vms", content=VM.replace(b"NAME", b"prompt"), headers=JSON)
        assert created.status_code == 201, created.text
        assert [client.get("/api/v1/vms").status_code for _ in range(3)] == [200] * 3


def test_connections_past_the_cap_get_503(mongo_url: str) -> None:
    """Past MAX_CONNECTIONS open connections a new one gets 503 problem+json; freed, it works."""
    cap = 10
    server = ServerProcess(
        mongo_url, f"e2e_{uuid.uuid4().hex[:8]}", MAX_CONNECTIONS=str(cap),
        HEADER_TIMEOUT_SECONDS="600", KEEP_ALIVE_TIMEOUT_SECONDS="600",
    ).start()  # fmt: skip
    try:
        held = [connect(server.port) for _ in range(cap)]
        # Each held connection is known to the server once it has answered a request on it.
        for s in held:
            s.sendall(b"GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n")
            assert s.recv(65536).startswith(b"HTTP/1.1 200")
        extra = [connect(server.port) for _ in range(5)]
        for s in extra:  # (a health probe would still be answered: tests/e2e/test_probes_*)
            s.sendall(b"GET /api/v1/vms HTTP/1.1\r\nHost: x\r\n\r\n")
            answer = read_until_closed(s)
            assert answer.startswith(b"HTTP/1.1 503"), answer[:100]
            assert b"application/problem+json" in answer
            s.close()
        for s in held:
            s.close()
        with httpx.Client(base_url=server.base_url, timeout=10) as client:
            # The server notices the closed connections as it reads their end: retry until then.
            for _ in range(100):
                try:
                    if client.get("/health/live").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
            assert client.get("/health/live").status_code == 200
    finally:
        assert server.stop() == 0, server.output()
