"""Every over-long request line or head gets problem+json 414 or 431, whatever the read sizes."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator

import pytest

from bench.server_process import ServerProcess
from tests.e2e.sockets import read_until_closed

KIB = 1024


@pytest.fixture(scope="module")
def server(mongo_url: str) -> Iterator[ServerProcess]:
    """One server (default limits) for the whole module."""
    process = ServerProcess(mongo_url, f"e2e_{uuid.uuid4().hex[:8]}").start(wait_ready=False)
    try:
        yield process
    finally:
        assert process.stop() == 0, process.output()


def exchange(port: int, request: bytes, pieces: int) -> bytes:
    """Send `request` in `pieces` writes (the server may close early) and read the answer.

    Requests ask for `Connection: close`: the read ends with the answer, not a keep-alive timeout.
    """
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        step = len(request) // pieces + 1
        try:
            for start in range(0, len(request), step):
                sock.sendall(request[start : start + step])
        except OSError:
            pass  # refused before everything was sent: the answer is already on its way
        return read_until_closed(sock)


def status_and_type(answer: bytes) -> tuple[bytes, bool]:
    """The status line, and whether the answer is problem+json."""
    head = answer.split(b"\r\n\r\n", 1)[0].lower()
    return answer.split(b"\r\n", 1)[0], b"content-type: application/problem+json" in head


# Sizes around every threshold seen: the app's own limits, the protocol's bound, 64 KiB reads,
# httptools' 64 KiB URL parser limit and 128 KiB reads.
SIZES = [5, 20, 37, 64, 66, 100, 127, 129, 1024]


@pytest.mark.parametrize("pieces", [1, 30])
@pytest.mark.parametrize("kib", SIZES)
def test_a_long_request_line_gets_problem_414(server: ServerProcess, kib: int, pieces: int) -> None:
    """A request target over the limits is 414 problem+json, never a plain 400 or a reset."""
    request = (
        b"GET /api/v1/vms?q="
        + b"a" * (kib * KIB)
        + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    status, problem = status_and_type(exchange(server.port, request, pieces))
    assert status.startswith(b"HTTP/1.1 414") and problem, (kib, pieces, status)


@pytest.mark.parametrize("pieces", [1, 30])
@pytest.mark.parametrize("kib", SIZES)
def test_a_long_path_gets_problem_414_or_an_app_answer(
    server: ServerProcess, kib: int, pieces: int
) -> None:
    """A long path without a query: the app's answer while short enough, else 414 problem+json."""
    request = (
        b"GET /api/v1/vms/"
        + b"a" * (kib * KIB)
        + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    status, problem = status_and_type(exchange(server.port, request, pieces))
    assert problem, (kib, pieces, status)
    assert status.split(b" ")[1] in {b"401", b"404", b"414"}, (kib, pieces, status)
    if kib >= 20:
        assert status.startswith(b"HTTP/1.1 414"), (kib, pieces, status)


@pytest.mark.parametrize("pieces", [1, 30])
@pytest.mark.parametrize("kib", SIZES[1:])
def test_large_headers_get_problem_431(server: ServerProcess, kib: int, pieces: int) -> None:
    """A header block over the limits is 431 problem+json, complete or never ending."""
    filler = b"X-Filler: " + b"x" * (kib * KIB) + b"\r\n"
    # A complete head, and (past the protocol's 36 KiB bound) one that goes on.
    for ending in (b"\r\n", b"") if kib > 36 else (b"\r\n",):
        request = b"GET /api/v1/vms HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + filler + ending
        status, problem = status_and_type(exchange(server.port, request, pieces))
        assert status.startswith(b"HTTP/1.1 431") and problem, (kib, pieces, ending, status)


def test_a_request_that_is_not_http_gets_problem_400(server: ServerProcess) -> None:
    """A head httptools cannot parse: 400 problem+json, not uvicorn's plain text."""
    status, problem = status_and_type(
        exchange(server.port, b"GET / HTTP/1.1\r\nBad Header\r\n\r\n", 1)
    )
    assert status.startswith(b"HTTP/1.1 400") and problem, status
