"""Bulk figures: creates through BatchVMs against single CreateVM calls, and an NDJSON export.

Runs the real server process (`python -m service serve`, as tests/e2e do) on a local mongod of
its own (or MONGODB_URL), in databases of its own. Usage:
scripts/bench-bulk [--batch-vms 100000] [--single-vms 3000] [--export-vms 1000000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from pymongo import AsyncMongoClient

from bench.server_process import ServerProcess
from scripts.bench_list import seed
from service.storage.mongod import LocalMongod, free_port

SPEC = {"os": "ubuntu-24.04", "cpu_cores": 2, "memory_mib": 4096, "storage_gib": 40}
CONCURRENCY = 32  # single creates in flight
BATCHES_IN_FLIGHT = 4
BATCH_SIZE = 1000


def rss_kib(pid: int) -> int:
    """The process's resident set size now."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class PeakRSS:
    """Samples a process's RSS every 20 ms in a thread, keeping the highest."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self._stop = pid, rss_kib(pid), threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, rss_kib(self.pid))

    def __enter__(self) -> PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def server(url: str, db: str) -> ServerProcess:
    """The service on `db`, its rate limit out of the way."""
    return ServerProcess(url, db, RATE_LIMIT_PER_MINUTE="100000000").start(timeout=120)


async def creates(base: str, token: str, singles: int, batched: int) -> tuple[float, float]:
    """VMs/s through single CreateVM calls, then through batches of BATCH_SIZE."""
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=CONCURRENCY)
    async with httpx.AsyncClient(
        base_url=base, headers=headers, limits=limits, timeout=120
    ) as http:
        gate = asyncio.Semaphore(CONCURRENCY)

        async def single(i: int) -> None:
            async with gate:
                r = await http.post("/api/v1/vms", json={"name": f"single-{i}", **SPEC})
                assert r.status_code == 201, r.text

        started = time.perf_counter()
        await asyncio.gather(*(single(i) for i in range(singles)))
        single_rate = singles / (time.perf_counter() - started)

        batch_gate = asyncio.Semaphore(BATCHES_IN_FLIGHT)

        async def batch(first: int) -> None:
            ops = [
                {"op": "create", "vm": {"name": f"batch-{i}", **SPEC}}
                for i in range(first, min(first + BATCH_SIZE, batched))
            ]
            async with batch_gate:
                r = await http.post("/api/v1/vms/batch", json={"operations": ops})
            assert r.status_code == 200, r.text
            assert {x["status"] for x in r.json()["results"]} == {201}

        started = time.perf_counter()
        await asyncio.gather(*(batch(f) for f in range(0, batched, BATCH_SIZE)))
        batch_rate = batched / (time.perf_counter() - started)
    return single_rate, batch_rate


async def export(base: str, token: str, pid: int) -> tuple[int, float, int, int]:
    """Stream every VM as NDJSON: (VMs, VMs/s, idle RSS KiB, peak RSS KiB during the export)."""
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=600) as http:
        await http.get("/api/v1/vms", params={"page_size": 1})  # warm
        idle = rss_kib(pid)
        lines = 0
        with PeakRSS(pid) as peak:
            started = time.perf_counter()
            async with http.stream("GET", "/api/v1/vms/export") as answer:
                assert answer.status_code == 200
                async for chunk in answer.aiter_bytes():
                    lines += chunk.count(b"\n")
            seconds = time.perf_counter() - started
    return lines, lines / seconds, idle, peak.peak


async def main() -> None:
    """Run both measurements and print the figures."""
    parser = argparse.ArgumentParser(prog="scripts/bench-bulk", description=__doc__)
    parser.add_argument("--batch-vms", type=int, default=100_000)
    parser.add_argument("--single-vms", type=int, default=3_000)
    parser.add_argument("--export-vms", type=int, default=1_000_000)
    args = parser.parse_args()
    mongod = None
    url = os.environ.get("MONGODB_URL")
    if not url:
        mongod = LocalMongod(Path(tempfile.mkdtemp(prefix="bench-bulk-")), free_port())
        url = mongod.start()
    suffix = uuid.uuid4().hex[:8]
    names = (f"bench_bulk_create_{suffix}", f"bench_bulk_export_{suffix}")
    try:
        running = server(url, names[0])
        try:
            single, batched = await creates(
                running.base_url, running.token, args.single_vms, args.batch_vms
            )
        finally:
            running.stop()
        print(f"creates: single {single:,.0f} VMs/s ({args.single_vms:,} VMs, {CONCURRENCY} "
              f"in flight); batches of {BATCH_SIZE} {batched:,.0f} VMs/s ({args.batch_vms:,} VMs, "
              f"{BATCHES_IN_FLIGHT} in flight): {batched / single:.1f}x", flush=True)  # fmt: skip

        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(url, tz_aware=True)
        print(f"seeding {args.export_vms:,} VMs ...", flush=True)
        await seed(client[names[1]], args.export_vms)
        running = server(url, names[1])
        try:
            assert running.process is not None
            count, rate, idle, peak = await export(
                running.base_url, running.token, running.process.pid
            )
        finally:
            running.stop()
        assert count == args.export_vms, count
        grown = (peak - idle) / 1024
        print(f"export: {count:,} VMs as NDJSON at {rate:,.0f} VMs/s; server RSS idle "
              f"{idle / 1024:.0f} MiB, peak {peak / 1024:.0f} MiB (+{grown:.0f} MiB)")  # fmt: skip
        for name in names:
            await client.drop_database(name)
        await client.close()
    finally:
        if mongod is not None:
            mongod.stop()


if __name__ == "__main__":
    asyncio.run(main())
