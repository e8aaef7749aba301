"""WatchVMs at 1, 100 and 1,000 watchers on one server process while 100 writes/s run.

Starts a local mongod and `python -m service serve`; watcher i follows label g=i%GROUPS, and
each write (a PATCH) goes to a VM of one group, so a write reaches WATCHERS/GROUPS watchers.
The load generator must not be what is measured: the watchers are raw HTTP/1.1 connections
spread over --clients processes that parse only what latency needs, and the writer is one
asyncio process that starts a PATCH every 1/rate s (open loop, up to MAX_IN_FLIGHT at once)
instead of waiting for the previous answer.
Latency: the VM's updated_at (set by the write, just before it commits) to the moment a watcher
process received the event's bytes; RSS: the server's resident memory at the end of each level;
server CPU: its user+system time over the writing window (and how often per second it was
descheduled while runnable: on this shared 2-core machine that, not its own CPU, is what
delays events when other processes are busy).
Usage: scripts/bench-watch [--levels 1,100,1000] [--seconds 10] [--rate 100] [--groups 10]
       [--clients 2] [--profile FILE (py-spy raw stacks of the server while writing)]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx

from bench.server_process import ServerProcess
from service.storage.mongod import LocalMongod, free_port

VMS_PER_GROUP = 10  # writes rotate over them: one VM is written again only after groups*10 writes
MAX_IN_FLIGHT = 32
MODIFIED = b'data: {"type":"MODIFIED"'
UPDATED_AT = b'"updated_at":"'


def rss_mib(pid: int) -> float:
    """Resident memory of `pid` in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def preempted(pid: int) -> int:
    """How often `pid` was descheduled while it could run (involuntary context switches)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("nonvoluntary_ctxt_switches:"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of `pid` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class SSEClient(asyncio.Protocol):
    """One watcher: a latency per MODIFIED event, from the bytes as they arrive."""

    def __init__(self, request: bytes, latencies: list[float], ready: asyncio.Event) -> None:
        """Send `request` once connected; `ready` is set at the first BOOKMARK."""
        self.request, self.latencies, self.ready = request, latencies, ready
        self.pending = b""
        self.bookmarked = False
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: Any) -> None:
        """Send the GET."""
        self.transport = transport
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        """Record the latency of every complete MODIFIED line received."""
        now = time.time()
        data = self.pending + data
        end = data.rfind(b"\n") + 1
        data, self.pending = data[:end], data[end:]
        if not self.bookmarked and b"event: BOOKMARK" in data:
            self.bookmarked = True
            self.ready.set()
        at = data.find(MODIFIED)
        while at >= 0:
            start = data.index(UPDATED_AT, at) + len(UPDATED_AT)
            stop = data.index(b'"', start)
            updated = datetime.fromisoformat(data[start:stop].decode()).timestamp()
            self.latencies.append((now - updated) * 1000)
            at = data.find(MODIFIED, stop)


def watchers_process(port: int, token: str, groups: list[int], pipe: Connection) -> None:
    """Hold one connection per entry of `groups`; report ready, then the event count on request,
    then (at "stop") the latencies and this process's CPU time."""
    import uvloop

    async def run() -> None:
        loop = asyncio.get_running_loop()
        latencies: list[float] = []
        readies = [asyncio.Event() for _ in groups]
        clients = []
        for group, ready in zip(groups, readies, strict=True):
            request = (
                f"GET /api/v1/vms/watch?label=g%3D{group} HTTP/1.1\r\nHost: x\r\n"
                f"Authorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n"
            ).encode()
            _, client = await loop.create_connection(
                lambda r=request, e=ready: SSEClient(r, latencies, e), "127.0.0.1", port
            )
            clients.append(client)
        await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), 120)
        pipe.send("ready")
        while await loop.run_in_executor(None, pipe.recv) == "count":
            pipe.send(len(latencies))
        for client in clients:
            if client.transport is not None:
                client.transport.close()
        pipe.send((latencies, sum(os.times()[:2])))

    uvloop.run(run())


def writer_process(base_url: str, headers: dict[str, str], vm_ids: list[list[str]],
                   seconds: float, rate: float) -> dict[str, Any]:  # fmt: skip
    """PATCH a VM every 1/rate s for `seconds` (group k, then k+1...): writes per group, rate."""

    async def run() -> dict[str, Any]:
        groups = len(vm_ids)
        per_group = [0] * groups
        answers: list[float] = []
        slots = asyncio.Semaphore(MAX_IN_FLIGHT)
        limits = httpx.Limits(max_connections=MAX_IN_FLIGHT)
        async with httpx.AsyncClient(base_url=base_url, headers=headers, limits=limits) as http:

            async def patch(n: int) -> None:
                group = n % groups
                vm_id = vm_ids[group][(n // groups) % len(vm_ids[group])]
                began = time.monotonic()
                try:
                    answer = await http.patch(f"/api/v1/vms/{vm_id}", json={"description": str(n)})
                    if answer.is_error:
                        raise RuntimeError(f"PATCH {answer.status_code}: {answer.text[:300]}")
                    per_group[group] += 1
                    answers.append((time.monotonic() - began) * 1000)
                finally:
                    slots.release()

            start = time.monotonic()
            tasks = []
            for n in range(int(seconds * rate)):
                await asyncio.sleep(max(0.0, start + n / rate - time.monotonic()))
                await slots.acquire()
                tasks.append(asyncio.create_task(patch(n)))
            await asyncio.gather(*tasks)
            elapsed = time.monotonic() - start
        answers.sort()
        return {
            "per_group": per_group, "writes_per_s": round(sum(per_group) / elapsed, 1),
            "patch_p50_ms": round(statistics.median(answers), 1),
            "patch_p99_ms": round(answers[max(0, int(len(answers) * 0.99) - 1)], 1),
        }  # fmt: skip

    return asyncio.run(run())


def level(server: ServerProcess, vm_ids: list[list[str]], watchers: int,
          args: argparse.Namespace) -> dict[str, Any]:  # fmt: skip
    """One level: connect the watchers, write for a while, collect every latency."""
    spawn = multiprocessing.get_context("spawn")
    groups = len(vm_ids)
    procs, pipes = [], []
    clients = min(args.clients, watchers)
    for c in range(clients):
        mine, theirs = spawn.Pipe()
        share = [i % groups for i in range(c, watchers, clients)]
        proc = spawn.Process(
            target=watchers_process, args=(server.port, server.token, share, theirs)
        )
        proc.start()
        procs.append(proc)
        pipes.append(mine)
    for pipe in pipes:
        if not pipe.poll(180):
            raise RuntimeError("watchers did not connect within 180 s")
        assert pipe.recv() == "ready"
    watching = [sum(1 for i in range(watchers) if i % groups == g) for g in range(groups)]
    profile = None
    if args.profile:
        spy = Path(sys.executable).parent / "py-spy"
        command = [str(spy), "record", "--format", "raw", "--pid", str(server.pid),
                   "-d", str(int(args.seconds)), "-o", f"{args.profile}.{watchers}"]  # fmt: skip
        profile = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cpu, switches, began = cpu_seconds(server.pid), preempted(server.pid), time.monotonic()
    with spawn.Pool(1) as pool:
        written = pool.apply(
            writer_process, (server.base_url, server.headers, vm_ids, args.seconds, args.rate)
        )
    window = time.monotonic() - began
    server_cpu = (cpu_seconds(server.pid) - cpu) / window * 100
    server_preempted = (preempted(server.pid) - switches) / window
    if profile is not None:
        profile.wait()
    expected = sum(n * w for n, w in zip(written.pop("per_group"), watching, strict=True))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for pipe in pipes:
            pipe.send("count")
        if sum(pipe.recv() for pipe in pipes) >= expected:
            break
        time.sleep(0.1)
    memory = rss_mib(server.pid)
    latencies: list[float] = []
    client_cpu = 0.0
    for pipe, proc in zip(pipes, procs, strict=True):
        pipe.send("stop")
        theirs_latencies, theirs_cpu = pipe.recv()
        latencies += theirs_latencies
        client_cpu += theirs_cpu
        proc.join()
    latencies.sort()
    return {
        "watchers": watchers, **written, "events": len(latencies), "expected": expected,
        "p50_ms": round(statistics.median(latencies), 1) if latencies else float("nan"),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1], 1) if latencies else None,
        "max_ms": round(latencies[-1], 1) if latencies else None,
        "rss_mib": round(memory, 1), "server_cpu_pct": round(server_cpu),
        "server_preempted_per_s": round(server_preempted),
        "watchers_cpu_s": round(client_cpu, 1),
    }  # fmt: skip


def main(args: argparse.Namespace) -> None:
    """Start mongod and the server, seed VMS_PER_GROUP VMs per group, run each level."""
    with tempfile.TemporaryDirectory(prefix="bench-watch-") as tmp:
        mongod = LocalMongod(Path(tmp) / "db", free_port())
        mongod.start()
        server = ServerProcess(
            mongod.url, f"bench_watch_{uuid.uuid4().hex[:6]}", WATCH_MAX_CLIENTS="5000",
            MAX_CONNECTIONS="5000", RATE_LIMIT_PER_MINUTE="10000000",
        )  # fmt: skip
        try:
            server.start()
            vm_ids: list[list[str]] = [[] for _ in range(args.groups)]
            with httpx.Client(base_url=server.base_url, headers=server.headers) as http:
                for group in range(args.groups):
                    for k in range(VMS_PER_GROUP):
                        body = {
                            "name": f"bench-{group}-{k}", "os": "x", "cpu_cores": 1,
                            "memory_mib": 512, "storage_gib": 1, "labels": {"g": str(group)},
                        }  # fmt: skip
                        created = http.post("/api/v1/vms", json=body)
                        created.raise_for_status()
                        vm_ids[group].append(created.json()["id"])
            print(f"server RSS at start: {rss_mib(server.pid):.1f} MiB", flush=True)
            for watchers in args.levels:
                print(level(server, vm_ids, watchers, args), flush=True)
        finally:
            try:
                server.stop()
            finally:
                mongod.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--levels", type=lambda s: [int(x) for x in s.split(",")],
                        default=[1, 100, 1000])  # fmt: skip
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--groups", type=int, default=10)
    parser.add_argument("--clients", type=int, default=2, help="watcher processes")
    parser.add_argument("--profile", help="write py-spy raw stacks of the server to FILE.<level>")
    main(parser.parse_args())
