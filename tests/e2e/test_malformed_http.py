"""A request that is not valid HTTP/1.1 gets the same 400 as every other one: problem type
`validation` (README), answered by the server's protocol before the app sees the request."""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import Iterator

import pytest

from bench.server_process import ServerProcess
from tests.e2e.sockets import read_until_closed

HEAD = b"Host: x\r\nConnection: close\r\n"
MALFORMED = {
    "unknown-method": b"FOO /api/v1/vms HTTP/1.1\r\n" + HEAD + b"\r\n",
    "header-without-colon": b"GET /api/v1/vms HTTP/1.1\r\n" + HEAD + b"NoColonHere\r\n\r\n",
    "bad-chunk": b"POST /api/v1/vms HTTP/1.1\r\n" + HEAD
    + b"Transfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
    "content-length-and-chunked": b"POST /api/v1/vms HTTP/1.1\r\n" + HEAD
    + b"Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
    "content-length-not-a-number": b"POST /api/v1/vms HTTP/1.1\r\n" + HEAD
    + b"Content-Length: abc\r\n\r\n{}",
    "http-9.9": b"GET /api/v1/vms HTTP/9.9\r\n" + HEAD + b"\r\n",
    "nul-in-path": b"GET /api/v1/\x00vms HTTP/1.1\r\n" + HEAD + b"\r\n",
    "raw-0xff-in-query": b"GET /api/v1/vms?name_prefix=\xff HTTP/1.1\r\n" + HEAD + b"\r\n",
}  # fmt: skip


@pytest.fixture(scope="module")
def server(mongo_url: str) -> Iterator[ServerProcess]:
    process = ServerProcess(mongo_url, f"e2e_{uuid.uuid4().hex[:8]}").start()
    try:
        yield process
    finally:
        assert process.stop() == 0, process.output()


def _exchange(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(request)
        return read_until_closed(sock)


@pytest.mark.parametrize("request_bytes", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_http_is_a_validation_problem(
    server: ServerProcess, request_bytes: bytes
) -> None:
    answer = _exchange(server.port, request_bytes)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400"), answer[:300]
    assert b"content-type: application/problem+json" in head.lower(), head
    problem = json.loads(body)
    assert problem["type"] == "https://vm-inventory.dev/problems/validation", problem
    assert (problem["status"], problem["title"]) == (400, "Invalid request")
