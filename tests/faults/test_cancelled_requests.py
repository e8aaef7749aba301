"""Requests cancelled while they hold a MongoDB cursor, change stream or transaction (issue 20):
clients that go away mid-export or mid-catch-up, and a batch cut off by a stalled mongod. Nothing
they held stays open, every route still answers, and SIGTERM still ends the process."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from pymongo import MongoClient

from bench.server_process import ServerProcess
from service.storage.mongod import LocalMongod, free_port
from tests.faults.load import vm_body

SEED_BATCHES = 4  # 4,000 VMs, each export or catch-up several MB: far more than the socket holds
ABORTS = 40  # of each kind, concurrent in groups of 10, plus 10 one after another
DEADLINE_S = 90.0  # polls give up after this: generous on a loaded machine


@pytest.fixture(scope="module")
def mongod(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalMongod]:
    """A mongod of the module's own, whose open cursors only these tests' servers count.

    MongoDB would abort a forgotten transaction after 60 s by itself; 600 s here, so a
    transaction the service leaves open shows as such.
    """
    db = LocalMongod(
        tmp_path_factory.mktemp("cancelled") / "db",
        free_port(),
        parameters={"transactionLifetimeLimitSeconds": "600"},
    )
    db.start()
    try:
        yield db
    finally:
        db.kill()


def open_cursors(url: str) -> int:
    """MongoDB's count of open cursors (serverStatus metrics.cursor.open.total)."""
    with MongoClient(url, serverSelectionTimeoutMS=10_000) as client:
        status = client.admin.command("serverStatus")
        return int(status["metrics"]["cursor"]["open"]["total"])


def poll(condition: Callable[[], bool], what: str, timeout: float = DEADLINE_S) -> None:
    """Wait until `condition()` holds; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"still not {what} after {timeout} s")
        time.sleep(0.25)


def seed(client: httpx.Client, prefix: str) -> None:
    """SEED_BATCHES x 1,000 VMs through BatchVMs, each with a long description."""
    for b in range(SEED_BATCHES):
        vms = [{**vm_body(f"{prefix}-{b}-{i:04d}"), "description": "d" * 400} for i in range(1000)]
        ops = [{"op": "create", "vm": vm} for vm in vms]
        answer = client.post("/api/v1/vms/batch", json={"operations": ops, "atomic": False})
        assert answer.status_code == 200, answer.text[:500]


def read_and_hang_up(server: ServerProcess, path: str, nbytes: int) -> int:
    """GET `path` over a raw socket with a small receive buffer, read `nbytes`, then close
    (unread data pending: the server sees the connection reset mid-response)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.settimeout(30)
        sock.connect(("127.0.0.1", server.port))
        head = (
            f"GET {path} HTTP/1.1\r\nHost: test\r\nAuthorization: {server.headers['Authorization']}"
        )
        sock.sendall(head.encode() + b"\r\n\r\n")
        received = b""
        try:
            while len(received) < nbytes:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                received += chunk
        except TimeoutError:
            return 0  # no answer (a wedged process)
        return int(received.split(b" ", 2)[1]) if received.startswith(b"HTTP/1.1") else 0


def hang_up_at_once(server: ServerProcess, path: str) -> None:
    """GET `path` and close the connection without reading (likely before the body starts)."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        auth = server.headers["Authorization"]
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: test\r\nAuthorization: {auth}\r\n\r\n".encode())


def abort_many(server: ServerProcess, path: str, nbytes: int) -> list[int]:
    """ABORTS aborted requests, 10 at a time, then 10 more one after another, and 10 closed
    without reading; the statuses of those that read."""
    with ThreadPoolExecutor(10) as pool:
        statuses = list(pool.map(lambda _: read_and_hang_up(server, path, nbytes), range(ABORTS)))
    statuses += [read_and_hang_up(server, path, nbytes) for _ in range(10)]
    for _ in range(10):
        hang_up_at_once(server, path)
    return statuses


def answers(client: httpx.Client, method: str, path: str, **kwargs: Any) -> int:
    """The status of one request (0: no answer within the client's timeout)."""
    try:
        return client.request(method, path, **kwargs).status_code
    except httpx.HTTPError:
        return 0


def test_clients_hanging_up_mid_export_and_mid_catch_up_leave_nothing_open(
    mongod: LocalMongod,
) -> None:
    # Ten at once need ten export slots of one key (with room for the ones still being
    # released); slots the 60 aborts leaked would still show, as 429s once the 32 are gone.
    server = ServerProcess(
        mongod.url, "faults_cancelled_streams",
        EXPORT_MAX_CONCURRENT="32", EXPORT_MAX_CONCURRENT_PER_KEY="32",
    )  # fmt: skip
    try:
        server.start()
        with httpx.Client(base_url=server.base_url, headers=server.headers, timeout=20) as client:
            # Catch-ups resume from before the seed: they replay every insert, within the window.
            start = client.get("/api/v1/vms", params={"page_size": 1}).json()["watch_token"]
            seed(client, "hangup")
            baseline = open_cursors(mongod.url)  # the process's own change stream

            exports = abort_many(server, "/api/v1/vms/export", 10_000)
            assert exports == [200] * len(exports)
            catch_ups = abort_many(server, f"/api/v1/vms/watch?resume_token={start}", 20_000)
            assert catch_ups == [200] * len(catch_ups)

            poll(lambda: open_cursors(mongod.url) <= baseline, "back to the baseline cursors")
            assert answers(client, "GET", "/health/ready") == 200
            assert answers(client, "GET", "/api/v1/vms", params={"page_size": 5}) == 200
            created = answers(client, "POST", "/api/v1/vms", json=vm_body("hangup-after"))
            assert created == 201
            # A whole export still reads to its end.
            lines = client.get("/api/v1/vms/export", params={"name_prefix": "hangup-0-"})
            assert lines.status_code == 200
            assert len(lines.text.splitlines()) == 1000
        server.terminate()
        assert server.wait(timeout=60) == 0, server.output()[-3000:]
    finally:
        server.stop()


def test_batch_cut_off_by_a_stalled_mongod_leaves_its_vms_writable(mongod: LocalMongod) -> None:
    assert mongod.process is not None
    server = ServerProcess(mongod.url, "faults_cancelled_batch", MONGODB_TIMEOUT_MS="1000")
    stopped = False
    try:
        server.start()
        with httpx.Client(base_url=server.base_url, headers=server.headers, timeout=60) as client:
            made = client.post(
                "/api/v1/vms/batch",
                json={"operations": [{"op": "create", "vm": vm_body(f"stall-{i}")}
                                     for i in range(100)]},
            )  # fmt: skip
            ids = [item["vm"]["id"] for item in made.json()["results"]]
            # 10 updates of each VM: 16 items in flight at once, each VM's in input order.
            ops = [
                {"op": "update", "id": vm_id, "patch": {"description": f"round {r}"}}
                for r in range(10)
                for vm_id in ids
            ]
            key = {"Idempotency-Key": "stalled-batch"}
            answer: dict[str, httpx.Response] = {}

            def send() -> None:
                body = {"operations": ops, "atomic": False}
                answer["first"] = client.post("/api/v1/vms/batch", json=body, headers=key)

            sender = threading.Thread(target=send)
            with MongoClient(mongod.url) as direct:
                sender.start()
                # Stall mongod once the batch is under way (some VM past its first update).
                poll(
                    lambda: (
                        direct[server.env["MONGODB_DB"]].vms.count_documents(
                            {"revision": {"$gt": 2}}
                        )
                        > 0
                    ),
                    "under way",
                )
            os.kill(mongod.process.pid, signal.SIGSTOP)
            stopped = True
            sender.join(DEADLINE_S)
            assert answer["first"].status_code == 503, answer["first"].text[:500]
            time.sleep(3)  # stalled for longer than any item's time bound
            os.kill(mongod.process.pid, signal.SIGCONT)
            stopped = False

            def patched(vm_id: str) -> bool:
                reply = client.patch(f"/api/v1/vms/{vm_id}", json={"labels": {"after": "stall"}})
                return reply.status_code == 200

            pending = set(ids)

            def writable() -> bool:
                pending.difference_update([vm_id for vm_id in sorted(pending) if patched(vm_id)])
                return not pending

            poll(writable, "writable")

            def retried() -> bool:
                body = {"operations": ops, "atomic": False}
                reply = client.post("/api/v1/vms/batch", json=body, headers=key)
                return reply.status_code == 200

            poll(retried, "retried with its Idempotency-Key")
        server.terminate()
        assert server.wait(timeout=60) == 0, server.output()[-3000:]
    finally:
        if stopped:
            os.kill(mongod.process.pid, signal.SIGCONT)
        server.stop()
