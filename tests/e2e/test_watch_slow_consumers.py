"""WatchVMs clients that never read are dropped: by the send timeout, the buffer bound or a full
queue while a send waits; their connection is aborted and their slot freed (issue 20, item 2)."""

from __future__ import annotations

import re
import socket
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from bench.server_process import ServerProcess
from tests.e2e.servers import own_server

WATCHERS = 3
BIG_VMS = 600  # ~6 MB of events per watcher: more than the kernel buffers a stalled client
PER_BATCH = 50  # a batch of big VMs stays under the 1 MiB body limit
DEADLINE_S = 180.0  # a bound against hangs only


def big_vm(name: str) -> dict[str, object]:
    """A VM of the largest size: 64 labels of 63+63 characters and a 1,024-character text."""
    labels = {f"k{i:02d}" + "a" * 60: "v" * 63 for i in range(64)}
    return {"name": name, "os": "ubuntu", "cpu_cores": 2, "memory_mib": 1024,
            "storage_gib": 10, "labels": labels, "description": "d" * 1024}  # fmt: skip


def metric(server: ServerProcess, name: str) -> float:
    """The value of an unlabelled metric of the server."""
    text = httpx.get(server.base_url + "/metrics", timeout=30).text
    found = re.search(rf"^{name} (\S+)$", text, re.M)
    assert found is not None, name
    return float(found.group(1))


def wait_for(check: object, what: str) -> None:
    """Poll `check()` until it is true (a generous deadline bounds hangs, not durations)."""
    assert callable(check)
    stop = time.monotonic() + DEADLINE_S
    while not check():
        assert time.monotonic() < stop, f"never: {what}"
        time.sleep(0.2)


def never_reading_watch(server: ServerProcess, prefix: str) -> socket.socket:
    """A WatchVMs request from a client whose receive buffer is 4 KiB and which never reads."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(DEADLINE_S)
    sock.connect(("127.0.0.1", server.port))
    sock.sendall(
        f"GET /api/v1/vms/watch?name_prefix={prefix} HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: Bearer {server.token}\r\n\r\n".encode()
    )
    return sock


def closed_by_server(sock: socket.socket) -> bool:
    """Read what the server sent until it closed the connection (True), or the deadline."""
    try:
        while sock.recv(65536):
            pass
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False
    return True


@pytest.fixture(
    params=[
        # Each bound alone, the other two out of the way:
        pytest.param({"WATCH_SEND_TIMEOUT_SECONDS": "1"}, id="send-timeout"),
        pytest.param({"WATCH_BUFFER_BYTES": "16384"}, id="buffer"),
        pytest.param({"WATCH_QUEUE_EVENTS": "100"}, id="queue-full-while-sending"),
    ]
)
def server(request: pytest.FixtureRequest, mongo_url: str) -> Iterator[ServerProcess]:
    """A server where only the bound under test can drop a watcher."""
    env = {
        "WATCH_SEND_TIMEOUT_SECONDS": "3600",
        "WATCH_BUFFER_BYTES": str(1 << 30),
        "WATCH_QUEUE_EVENTS": "1000000",
        "RATE_LIMIT_PER_MINUTE": "1000000",
        **request.param,
    }
    with own_server(mongo_url, "e2e_slow", **env) as process:
        yield process


def test_a_client_that_never_reads_is_dropped_and_its_slot_freed(server: ServerProcess) -> None:
    prefix = f"slow-{uuid.uuid4().hex[:6]}"
    dropped_before = metric(server, "vm_inventory_watch_slow_consumers_dropped_total")
    sockets = [never_reading_watch(server, prefix) for _ in range(WATCHERS)]
    try:
        wait_for(lambda: metric(server, "vm_inventory_watchers") == WATCHERS, "watchers open")
        with httpx.Client(base_url=server.base_url, headers=server.headers, timeout=60) as http:
            for first in range(0, BIG_VMS, PER_BATCH):
                ops = [{"op": "create", "vm": big_vm(f"{prefix}-{i}")}
                       for i in range(first, first + PER_BATCH)]  # fmt: skip
                answer = http.post("/api/v1/vms/batch", json={"operations": ops})
                assert answer.status_code == 200, answer.text
        wait_for(
            lambda: (
                metric(server, "vm_inventory_watch_slow_consumers_dropped_total")
                >= dropped_before + WATCHERS
            ),
            "every never-reading watcher dropped",
        )
        wait_for(lambda: metric(server, "vm_inventory_watchers") == 0, "watchers gone")
        assert all(closed_by_server(sock) for sock in sockets)
        # The slots are free: as many new watches as before open (and are answered).
        with httpx.Client(base_url=server.base_url, headers=server.headers, timeout=60) as http:
            for _ in range(WATCHERS):
                with http.stream("GET", "/api/v1/vms/watch") as answer:
                    assert answer.status_code == 200
    finally:
        for sock in sockets:
            sock.close()
