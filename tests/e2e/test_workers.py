"""`serve --workers N`: several processes behind one port, sharing one page-token key, one
set of metrics and one access log."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bench.server_process import ServerProcess
from service.http.metrics import forget_dead_workers

VM = {"os": "ubuntu-24.04", "cpu_cores": 1, "memory_mib": 512, "storage_gib": 1}


def workers_of(pid: int) -> list[int]:
    """The worker processes (multiprocessing spawns) under the server process `pid`."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == pid and b"spawn_main" in cmdline:
            found.append(int(stat.parent.name))
    return found


def test_workers_share_the_port_and_the_page_token_key(mongo_url: str) -> None:
    """Two workers answer; a page walk on fresh connections (any worker each) never breaks."""
    # PAGE_TOKEN_SECRET unset: serve makes one key for all workers.
    server = ServerProcess(mongo_url, f"e2e_{uuid.uuid4().hex[:8]}", WORKERS="2")
    server.env.pop("PAGE_TOKEN_SECRET", None)
    server.start()
    try:
        assert len(workers_of(server.pid)) == 2
        with httpx.Client(base_url=server.base_url, headers=server.headers, timeout=10) as client:
            for i in range(6):
                created = client.post("/api/v1/vms", json={"name": f"w-{i}", **VM})
                assert created.status_code == 201, created.text
        names: list[str] = []
        params = {"page_size": "1"}
        for _ in range(10):
            # A new connection per page: pages land on either worker.
            page = httpx.get(
                server.base_url + "/api/v1/vms", params=params, headers=server.headers, timeout=10
            )
            assert page.status_code == 200, page.text
            body = page.json()
            names += [vm["name"] for vm in body["items"]]
            if not body.get("next_page_token"):
                break
            params = {"page_size": "1", "page_token": body["next_page_token"]}
        assert sorted(names) == [f"w-{i}" for i in range(6)]
    finally:
        assert server.stop() == 0, server.output()
    assert workers_of(server.pid) == []


def test_sigterm_lets_every_worker_finish_its_request(mongo_url: str) -> None:
    """SIGTERM with two workers: requests in flight finish, then the server exits 0."""
    server = ServerProcess(mongo_url, f"e2e_{uuid.uuid4().hex[:8]}", WORKERS="2").start()
    assert server.process is not None
    socks = []
    try:
        for i in range(4):
            body = json.dumps({"name": f"inflight-{i}", **VM}).encode()
            head = (
                f"POST /api/v1/vms HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                f"Authorization: Bearer {server.token}\r\nContent-Length: {len(body)}\r\n\r\n"
            ).encode()
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=15)
            sock.sendall(head + body[:10])  # in flight on whichever worker accepted it
            socks.append((sock, body))
        time.sleep(0.5)
        server.process.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        for sock, body in socks:
            sock.sendall(body[10:])
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
            assert answer.startswith(b"HTTP/1.1 201"), answer[:200]
        assert server.wait() == 0, server.output()
    finally:
        for sock, _ in socks:
            sock.close()
        assert server.stop() == 0


def live_requests_counted(base_url: str) -> float:
    """`vm_inventory_requests_total` for GET /health/live in one scrape (a new connection)."""
    scrape = httpx.get(base_url + "/metrics", timeout=10)
    assert scrape.status_code == 200, scrape.text
    for family in text_string_to_metric_families(scrape.text):
        for sample in family.samples:
            if (
                sample.name == "vm_inventory_requests_total"
                and sample.labels["path"] == "/health/live"
            ):
                return sample.value
    return 0.0


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_scrape_counts_every_worker_and_each_request_is_logged_once(
    mongo_url: str, workers: str
) -> None:
    """Every scrape, whichever worker answers it, adds up every worker's counters (so they never
    seem to go back), and each request has one access line (ours), as with one process."""
    server = ServerProcess(mongo_url, f"e2e_{uuid.uuid4().hex[:8]}", WORKERS=workers)
    server.env["LOG_LEVEL"] = "INFO"
    metrics_dirs: set[str] = set()
    try:
        server.start()
        for worker in workers_of(server.pid):
            environ = Path(f"/proc/{worker}/environ").read_bytes().split(b"\0")
            metrics_dirs |= {
                v.split(b"=", 1)[1].decode()
                for v in environ
                if v.startswith(b"PROMETHEUS_MULTIPROC_DIR=")
            }
        seen: list[float] = []
        for round_ in range(1, 5):
            for _ in range(10):  # a new connection each: any worker answers
                assert httpx.get(server.base_url + "/health/live", timeout=10).status_code == 200
            seen += [live_requests_counted(server.base_url) for _ in range(4)]
            assert seen[-4:] == [10.0 * round_] * 4, seen
    finally:
        stopped = server.stop()  # also when it never became ready
    assert stopped == 0, server.output()
    assert len(metrics_dirs) == (1 if workers == "2" else 0)
    assert not any(Path(d).exists() for d in metrics_dirs)  # removed on exit
    lines = [json.loads(line) for line in server.output().splitlines() if line.startswith("{")]
    assert [line for line in lines if line["logger"] == "uvicorn.access"] == []
    live = [line for line in lines if line.get("route") == "/health/live"]
    assert len(live) == 40
    assert {line["logger"] for line in live} == {"service.access"}


def test_a_new_worker_drops_the_live_gauges_of_a_dead_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker that died without saying so leaves its requests in progress and watchers behind;
    the worker uvicorn starts in its place drops them (its counters stay: they happened)."""
    child = subprocess.Popen([sys.executable, "-c", ""])
    child.wait()
    dead = str(child.pid)
    alive = str(os.getpid())
    names = [
        f"gauge_livesum_{dead}.db", f"gauge_livesum_{alive}.db",
        f"counter_{dead}.db", f"histogram_{dead}.db", f"gauge_mostrecent_{dead}.db",
    ]  # fmt: skip
    for name in names:
        (tmp_path / name).write_bytes(b"")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    forget_dead_workers()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names[1:])
