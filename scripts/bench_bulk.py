"""Bulk figures: creates through BatchVMs against single CreateVM calls, an NDJSON export, and
concurrent exports of the largest VMs (RSS with 1 and 8 at once, GetVM latency idle and during 4).

Runs the real server process (`python -m service serve`, as tests/e2e do) on a local mongod of
its own (or MONGODB_URL), in databases of its own. Usage:
scripts/bench-bulk [--batch-vms 100000] [--single-vms 3000] [--export-vms 1000000]
                   [--big-vms 10000] [--concurrent-only]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from pymongo import AsyncMongoClient

from bench.server_process import ServerProcess
from scripts.bench_list import seed, vm
from service.domain.listing import search_keys
from service.storage.migrations.runner import upgrade
from service.storage.mongod import LocalMongod, free_port

SPEC = {"os": "ubuntu-24.04", "cpu_cores": 2, "memory_mib": 4096, "storage_gib": 40}
BIG_LABELS = {f"k{i:02d}" + "a" * 60: "v" * 63 for i in range(64)}  # the largest VM there is
PROBE_SECONDS = 5.0  # GetVM probed this long while idle
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


async def seed_big(db: Any, count: int) -> None:
    """Insert `count` VMs of the largest size (64 labels of 63+63 characters, 1 KiB text)."""
    rng = random.Random(count)
    for first in range(0, count, 1000):
        docs = []
        for i in range(first, min(first + 1000, count)):
            doc = vm(i, rng)
            doc.update(labels=BIG_LABELS, description="d" * 1024)
            doc.update(search_keys(doc))
            docs.append(doc)
        await db.vms.insert_many(docs, ordered=False)
    await upgrade(db)


def probe_getvm(base: str, token: str, ids: list[str], until: threading.Event) -> list[float]:
    """GetVM latencies (ms), one request at a time, until `until` is set."""
    latencies: list[float] = []
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}) as http:
        i = 0
        while not until.is_set():
            started = time.perf_counter()
            assert http.get(f"/api/v1/vms/{ids[i % len(ids)]}").status_code == 200
            latencies.append((time.perf_counter() - started) * 1000)
            i += 1
            time.sleep(0.01)
    return latencies


def percentiles(latencies: list[float]) -> str:
    """p50 and p99 of `latencies`."""
    cuts = statistics.quantiles(latencies, n=100)
    return f"p50 {cuts[49]:.1f} ms, p99 {cuts[98]:.1f} ms ({len(latencies)} GetVMs)"


async def exports_at_once(base: str, token: str, pid: int, count: int) -> tuple[int, int]:
    """`count` concurrent full NDJSON exports read as fast as possible: (VMs each, peak RSS)."""
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=600) as http:

        async def one() -> int:
            lines = 0
            async with http.stream("GET", "/api/v1/vms/export") as answer:
                assert answer.status_code == 200, answer.status_code
                async for chunk in answer.aiter_bytes():
                    lines += chunk.count(b"\n")
            return lines

        with PeakRSS(pid) as peak:
            counts = await asyncio.gather(*(one() for _ in range(count)))
    assert len(set(counts)) == 1, counts
    return counts[0], peak.peak


async def concurrent(url: str, db_name: str, big: int) -> None:
    """RSS per export with 1 and 8 at once, GetVM idle and during 4 exports (largest VMs)."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(url, tz_aware=True)
    print(f"seeding {big:,} of the largest VMs ...", flush=True)
    await seed_big(client[db_name], big)
    running = ServerProcess(
        url, db_name, RATE_LIMIT_PER_MINUTE="100000000",
        EXPORT_MAX_CONCURRENT="8", EXPORT_MAX_CONCURRENT_PER_KEY="8",
    ).start(timeout=120)  # fmt: skip
    try:
        assert running.process is not None
        pid, base, token = running.process.pid, running.base_url, running.token
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=base, headers=headers) as http:
            page = await http.get("/api/v1/vms", params={"page_size": 100})
        ids = [item["id"] for item in page.json()["items"]]
        idle = rss_kib(pid)
        stop = threading.Event()
        threading.Timer(PROBE_SECONDS, stop.set).start()
        quiet = await asyncio.to_thread(probe_getvm, base, token, ids, stop)
        for at_once in (1, 8):
            before = rss_kib(pid)
            count, peak = await exports_at_once(base, token, pid, at_once)
            grown = (peak - before) / 1024
            print(f"{at_once} export(s) of {count:,} large VMs at once: server RSS "
                  f"{before / 1024:.0f} -> peak {peak / 1024:.0f} MiB (+{grown:.0f} MiB, "
                  f"{grown / at_once:.1f} MiB per export; idle {idle / 1024:.0f})")  # fmt: skip
        stop = threading.Event()
        probe = asyncio.create_task(asyncio.to_thread(probe_getvm, base, token, ids, stop))
        await exports_at_once(base, token, pid, 4)
        stop.set()
        busy = await probe
        print(f"GetVM idle: {percentiles(quiet)}; during 4 exports: {percentiles(busy)}")
    finally:
        running.stop()
        await client.drop_database(db_name)
        await client.close()


async def main() -> None:
    """Run both measurements and print the figures."""
    parser = argparse.ArgumentParser(prog="scripts/bench-bulk", description=__doc__)
    parser.add_argument("--batch-vms", type=int, default=100_000)
    parser.add_argument("--single-vms", type=int, default=3_000)
    parser.add_argument("--export-vms", type=int, default=1_000_000)
    parser.add_argument("--big-vms", type=int, default=10_000)
    parser.add_argument("--concurrent-only", action="store_true")
    args = parser.parse_args()
    mongod = None
    url = os.environ.get("MONGODB_URL")
    if not url:
        mongod = LocalMongod(Path(tempfile.mkdtemp(prefix="bench-bulk-")), free_port())
        url = mongod.start()
    suffix = uuid.uuid4().hex[:8]
    names = (f"bench_bulk_create_{suffix}", f"bench_bulk_export_{suffix}")
    try:
        if args.concurrent_only:
            await concurrent(url, f"bench_bulk_concurrent_{suffix}", args.big_vms)
            return
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
        await concurrent(url, f"bench_bulk_concurrent_{suffix}", args.big_vms)
    finally:
        if mongod is not None:
            mongod.stop()


if __name__ == "__main__":
    asyncio.run(main())
