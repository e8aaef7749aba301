"""Run the benchmark: `python -m bench [--rounds N] [--duration S] [--profile SCENARIO]`."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench.wrk import SCENARIOS, Target, run_wrk
from service.db import LocalMongod, free_port
from tests.support import ROOT, ServerProcess

SEED = 10_000
TARGETS = {"get": 0.85, "list": 0.80, "create": 0.60}
MAX_RSS_MIB = 200
VM_BODY = {"os": "ubuntu-24.04", "cpu_cores": 2, "memory_mib": 2048, "storage_gib": 20}


async def seed(base_url: str, headers: dict[str, str], count: int) -> list[str]:
    """Create `count` VMs through the API, so they are stored as the service stores them."""
    ids: list[str] = []
    queue = iter(range(count))
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=30) as client:

        async def worker() -> None:
            for i in queue:
                body = {**VM_BODY, "name": f"seed-{i:05d}", "labels": {"env": "bench"}}
                response = await client.post("/api/v1/vms", json=body)
                response.raise_for_status()
                ids.append(response.json()["id"])

        await asyncio.gather(*(worker() for _ in range(16)))
    return ids


def start_floor(url: str, db: str) -> tuple[subprocess.Popen[bytes], str]:
    """Start the floor app under the service's uvicorn settings; return it and its URL."""
    port = free_port()
    env = {**os.environ, "MONGODB_URL": url, "MONGODB_DB": db, "HOST": "127.0.0.1"}
    env |= {"PORT": str(port), "LOG_LEVEL": "INFO"}
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.floor"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/api/v1/vms?page_size=1").status_code == 200:
                return process, base
        except httpx.HTTPError:
            time.sleep(0.1)
    raise TimeoutError("the floor app did not answer")


def peak_rss_mib(pid: int) -> float:
    """The process's peak resident set size (VmHWM) in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Median figures per scenario and target, and the median of the per-round ratios."""
    out: dict[str, Any] = {}
    for scenario in SCENARIOS:
        entry: dict[str, Any] = {}
        for target in ("service", "floor"):
            mine = [r for r in runs if r["scenario"] == scenario and r["target"] == target]
            if mine:
                entry[target] = {
                    key: statistics.median(r[key] for r in mine)
                    for key in ("rps", "p50_ms", "p99_ms", "cpu_us", "non_2xx", "socket_errors")
                }
        ratios, cpu_ratios = [], []
        for round_no in sorted({r["round"] for r in runs}):
            pair = {
                r["target"]: r for r in runs if r["scenario"] == scenario and r["round"] == round_no
            }
            if "floor" in pair:
                ratios.append(pair["service"]["rps"] / pair["floor"]["rps"])
                if pair["service"]["cpu_us"]:
                    cpu_ratios.append(pair["floor"]["cpu_us"] / pair["service"]["cpu_us"])
        if ratios:
            entry["ratio"] = statistics.median(ratios)
            entry["ratios"] = ratios
            entry["cpu_ratio"] = statistics.median(cpu_ratios) if cpu_ratios else None
            entry["target_ratio"] = TARGETS.get(scenario)
        out[scenario] = entry
    return out


def report(summary: dict[str, Any], rss: float) -> list[str]:
    """Print the table; return the targets missed."""
    print(
        f"\n{'scenario':8} {'target':8} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'CPU us/req':>10} {'non-2xx':>8}"
    )
    missed = []
    for scenario, entry in summary.items():
        for target in ("service", "floor"):
            if target in entry:
                f = entry[target]
                print(
                    f"{scenario:8} {target:8} {f['rps']:8.0f} {f['p50_ms']:8.2f} "
                    f"{f['p99_ms']:8.2f} {f['cpu_us']:10.0f} {f['non_2xx']:8.0f}"
                )
        if "ratio" in entry:
            want = entry["target_ratio"]
            ok = entry["ratio"] >= want
            rounds = ", ".join(f"{r:.2f}" for r in entry["ratios"])
            print(f"{'':8} ratio    {entry['ratio']:.2f}x (target >= {want}x: "
                  f"{'ok' if ok else 'MISSED'}; rounds {rounds}); "
                  f"CPU-per-request ratio floor/service {entry['cpu_ratio']:.2f}x")  # fmt: skip
            if not ok:
                missed.append(scenario)
    print(f"service peak RSS: {rss:.0f} MiB (target < {MAX_RSS_MIB}: "
          f"{'ok' if rss < MAX_RSS_MIB else 'MISSED'})")  # fmt: skip
    if rss >= MAX_RSS_MIB:
        missed.append("rss")
    return missed


def markdown(summary: dict[str, Any], rss: float) -> str:
    """The figures as a Markdown table (for README's Performance section)."""
    lines = [
        "| scenario | service req/s | floor req/s | ratio (target) | service p50 / p99 ms "
        "| floor p50 / p99 ms | CPU us/req service / floor |",
        "|---|---|---|---|---|---|---|",
    ]
    for scenario, entry in summary.items():
        svc, floor = entry["service"], entry.get("floor")
        cells = [
            scenario,
            f"{svc['rps']:.0f}",
            f"{floor['rps']:.0f}" if floor else "-",
            f"{entry['ratio']:.2f}x (>= {entry['target_ratio']}x)" if floor else "-",
            f"{svc['p50_ms']:.1f} / {svc['p99_ms']:.1f}",
            f"{floor['p50_ms']:.1f} / {floor['p99_ms']:.1f}" if floor else "-",
            f"{svc['cpu_us']:.0f} / " + (f"{floor['cpu_us']:.0f}" if floor else "-"),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append(f"\nService peak RSS: {rss:.0f} MiB (target < {MAX_RSS_MIB} MB).")
    return "\n".join(lines) + "\n"


def profile(pid: int, target: Target, scenario: str, seconds: int, out_dir: Path) -> None:
    """Record the service with py-spy while wrk drives `scenario`; print the hottest frames."""
    out = out_dir / f"profile-{scenario}.folded"
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    recorder = subprocess.Popen(
        [spy, "record", "--pid", str(pid), "--duration", str(seconds), "--rate", "250",
         "--format", "raw", "--output", str(out), "--nonblocking"],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    print(run_wrk(target, scenario, seconds))
    recorder.wait(seconds + 30)
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in out.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        total += int(count)
        own[frames[-1]] += int(count)
        for frame in set(frames):
            inclusive[frame] += int(count)
    for title, counter in (("inclusive", inclusive), ("self", own)):
        print(f"\ntop frames by {title} time ({total} samples)")
        for frame, count in counter.most_common(30):
            print(f"{100 * count / total:5.1f}%  {frame}")
    print(f"\ncollapsed stacks in {out} (flamegraph.pl or speedscope.app read them)")


def main() -> int:
    """Start mongod, the service and the floor; run alternating rounds; print and save figures."""
    parser = argparse.ArgumentParser(prog="scripts/bench")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (>= 3)")
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections")
    parser.add_argument("--seed", type=int, default=SEED, help="VMs created before measuring")
    parser.add_argument("--profile", choices=SCENARIOS, help="py-spy the service on one scenario")
    parser.add_argument(
        "--layers", action="store_true", help="in-process CPU per GetVM, layer by layer"
    )
    args = parser.parse_args()
    if args.layers:
        from bench import layers

        layers.main()
        return 0
    out_dir = ROOT / ".bench"
    out_dir.mkdir(exist_ok=True)
    db = "bench"
    with tempfile.TemporaryDirectory(prefix="vm-bench-") as tmp:
        mongod = LocalMongod(Path(tmp) / "mongo", free_port())
        url = mongod.start()
        server = floor = None
        try:
            # Production settings (auth, metrics, INFO logs), the rate limit out of the way.
            server = ServerProcess(url, db, LOG_LEVEL="INFO", RATE_LIMIT_PER_MINUTE="1000000000")
            server.start()
            headers = server.headers
            print(f"service on {server.base_url} (pid {server.pid}); seeding {args.seed} VMs")
            started = time.monotonic()
            ids = asyncio.run(seed(server.base_url, headers, args.seed))
            print(f"seeded in {time.monotonic() - started:.1f}s")
            floor, floor_url = start_floor(url, db)
            ids_file = Path(tmp) / "ids.txt"
            ids_file.write_text("\n".join(ids) + "\n")
            targets = {
                "service": Target(
                    "service", server.base_url, headers, ids_file, args.connections, server.pid
                ),
                "floor": Target("floor", floor_url, {}, ids_file, args.connections, floor.pid),
            }
            if args.profile:
                profile(server.pid, targets["service"], args.profile, args.duration * 2, out_dir)
                return 0
            for target in targets.values():  # warm-up: connection pools, caches
                run_wrk(target, "get", 2)
                run_wrk(target, "create", 1)
            runs: list[dict[str, Any]] = []
            for round_no in range(max(args.rounds, 1)):
                order = ["service", "floor"] if round_no % 2 == 0 else ["floor", "service"]
                for scenario in SCENARIOS:
                    for name in order:
                        if scenario == "patch" and name == "floor":
                            continue
                        result = run_wrk(targets[name], scenario, args.duration)
                        result |= {"round": round_no, "scenario": scenario, "target": name}
                        runs.append(result)
                        print(f"round {round_no + 1} {scenario:6} {name:7} {result['rps']:8.0f}"
                              f" req/s  p50 {result['p50_ms']:.2f} ms  p99 {result['p99_ms']:.2f}"
                              f" ms  {result['cpu_us']:.0f} CPU us/req"
                              f"  non-2xx {result['non_2xx']}", flush=True)  # fmt: skip
            rss = peak_rss_mib(server.pid)
            summary = summarize(runs)
            missed = report(summary, rss)
        finally:
            if floor is not None:
                floor.terminate()
                floor.wait(20)
            if server is not None:
                server.stop()
            mongod.stop()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    result_doc = {
        "when": stamp, "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "settings": vars(args), "summary": summary, "service_peak_rss_mib": rss,
        "missed": missed, "runs": runs,
    }  # fmt: skip
    for path in (out_dir / f"bench-{stamp}.json", out_dir / "latest.json"):
        path.write_text(json.dumps(result_doc, indent=2) + "\n")
    (out_dir / "latest.md").write_text(markdown(summary, rss))
    print(f"figures written to {out_dir / f'bench-{stamp}.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
