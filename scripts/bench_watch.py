"""WatchVMs at 1, 100 and 1,000 watchers on one server process while 100 writes/s run.

Starts a local mongod and `python -m service serve`; watcher i follows label g=i%GROUPS, and
each write (a PATCH) goes to one group's VM, so a write reaches WATCHERS/GROUPS watchers.
Latency: the VM's updated_at (set by the write, just before it commits) to the moment a watcher
parsed the event; RSS: the server process's resident memory at the end of each level.
Usage: scripts/bench-watch [--levels 1,100,1000] [--seconds 10] [--rate 100] [--groups 10]
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import msgspec

from service.storage.mongod import LocalMongod, free_port
from tests.support import ServerProcess

WRITERS = 5  # concurrent writers; with 10 groups each VM has one writer at a time


def rss_mib(pid: int) -> float:
    """Resident memory of `pid` in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def watcher(port: int, token: str, group: int, latencies: list[float], ready: asyncio.Event,
                  stop: asyncio.Event) -> None:  # fmt: skip
    """One raw HTTP/1.1 SSE client; records a latency per change event."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        f"GET /api/v1/vms/watch?label=g%3D{group} HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n".encode()
    )
    await writer.drain()
    decoder = msgspec.json.Decoder()
    try:
        while not stop.is_set():
            line = await reader.readline()
            if not line:
                return
            if line.startswith(b"event: BOOKMARK"):
                ready.set()
            if line.startswith(b'data: {"type":"MODIFIED"'):
                data: dict[str, Any] = decoder.decode(line[6:])
                updated = datetime.fromisoformat(data["vm"]["updated_at"])
                latencies.append((datetime.now(UTC) - updated).total_seconds() * 1000)
    finally:
        writer.close()


def write(
    base_url: str, headers: dict[str, str], vm_ids: list[str], seconds: float, rate: float
) -> tuple[int, float]:
    """PATCH the VMs at `rate` per second for `seconds` from WRITERS threads (one VM each at a
    time, so no write waits on another's revision); (writes, writes per second)."""
    start = time.monotonic()

    def writer(k: int) -> int:
        done = 0
        with httpx.Client(base_url=base_url, headers=headers) as http:
            while time.monotonic() - start < seconds:
                vm_id = vm_ids[(k + done * WRITERS) % len(vm_ids)]
                answer = http.patch(f"/api/v1/vms/{vm_id}", json={"description": str(done)})
                answer.raise_for_status()
                done += 1
                time.sleep(max(0.0, done * WRITERS / rate - (time.monotonic() - start)))
        return done

    with concurrent.futures.ThreadPoolExecutor(WRITERS) as threads:
        writes = sum(threads.map(writer, range(WRITERS)))
    return writes, writes / (time.monotonic() - start)


async def level(server: ServerProcess, vm_ids: list[str], watchers: int, seconds: float,
                rate: float) -> dict[str, float]:  # fmt: skip
    """Run one level: connect the watchers, write at `rate` for `seconds`, collect latencies."""
    latencies: list[float] = []
    stop = asyncio.Event()
    readies = [asyncio.Event() for _ in range(watchers)]
    tasks = [
        asyncio.create_task(
            watcher(server.port, server.token, i % len(vm_ids), latencies, readies[i], stop)
        )
        for i in range(watchers)
    ]
    await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), 120)
    # The writer runs in a process of its own: the watchers' parsing must not slow it down.
    with concurrent.futures.ProcessPoolExecutor(1) as pool:
        writes, achieved = await asyncio.get_running_loop().run_in_executor(
            pool, write, server.base_url, server.headers, vm_ids, seconds, rate
        )
    expected = writes * watchers // len(vm_ids)
    deadline = time.monotonic() + 30
    while len(latencies) < expected and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.1)
    memory = rss_mib(server.pid)
    stop.set()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    ordered = sorted(latencies)
    return {
        "watchers": watchers, "writes_per_s": round(achieved, 1), "events": len(ordered),
        "expected": expected,
        "p50_ms": round(statistics.median(ordered), 1) if ordered else float("nan"),
        "p99_ms": round(ordered[int(len(ordered) * 0.99) - 1], 1) if ordered else float("nan"),
        "rss_mib": round(memory, 1),
    }  # fmt: skip


async def main(args: argparse.Namespace) -> None:
    """Start mongod and the server, seed one VM per group, run each level."""
    with tempfile.TemporaryDirectory(prefix="bench-watch-") as tmp:
        mongod = LocalMongod(Path(tmp) / "db", free_port())
        mongod.start()
        server = ServerProcess(
            mongod.url, f"bench_watch_{uuid.uuid4().hex[:6]}", WATCH_MAX_CLIENTS="5000",
            RATE_LIMIT_PER_MINUTE="10000000",
        )  # fmt: skip
        try:
            server.start()
            async with httpx.AsyncClient(base_url=server.base_url, headers=server.headers) as http:
                vm_ids = []
                for group in range(args.groups):
                    body = {
                        "name": f"bench-{group}", "os": "x", "cpu_cores": 1, "memory_mib": 512,
                        "storage_gib": 1, "labels": {"g": str(group)},
                    }  # fmt: skip
                    vm_ids.append((await http.post("/api/v1/vms", json=body)).json()["id"])
            print(f"server RSS at start: {rss_mib(server.pid):.1f} MiB", flush=True)
            for watchers in args.levels:
                print(await level(server, vm_ids, watchers, args.seconds, args.rate), flush=True)
        finally:
            with contextlib.suppress(Exception):
                server.stop()
            mongod.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--levels", type=lambda s: [int(x) for x in s.split(",")],
                        default=[1, 100, 1000])  # fmt: skip
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--groups", type=int, default=10)
    asyncio.run(main(parser.parse_args()))
