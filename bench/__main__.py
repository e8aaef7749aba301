"""Run the benchmark: `python -m bench [--rounds N] [--duration S] [--only T,..] [--scenarios S,..]
[--server uvicorn|granian] [--profile SCENARIO] [--layers] [--odm]`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from bson import ObjectId
from pymongo import MongoClient

from bench import targets as t
from bench.data import SEED, delete_pool, replace_line, seed, shape_gaps, transaction_counts
from bench.report import markdown, p99_ratios, ratios, report, summarize
from bench.wrk import SCENARIOS, Target, cpu_seconds, peak_rss_mb, run_wrk
from service.storage.mongod import LocalMongod, free_port


def package_of(frame: str) -> str:
    """The package (or, for the service, the module) a py-spy frame's code belongs to."""
    path = frame.rpartition("(")[2].partition(":")[0]
    if path.startswith("service/"):
        return path.removesuffix(".py")
    if path.startswith(("<frozen", "<built")) or "/" not in path:
        return "python (builtins, frozen modules)"
    return path.partition("/")[0].removesuffix(".py")


def by_package(own: Counter[str], total: int, cpu_us: float) -> list[str]:
    """Self time grouped by package, each as a share of samples and of the CPU per request."""
    packages: Counter[str] = Counter()
    for frame, samples in own.items():
        packages[package_of(frame)] += samples
    return [f"{100 * n / total:5.1f}%  {n * cpu_us / total:6.0f} us/req  {package}"
            for package, n in packages.most_common(25)]  # fmt: skip


def profile(
    pid: int, target: Target, scenario: str, seconds: int, out_dir: Path, ids: Path | None = None
) -> None:
    """Record `target` (its process and children) with py-spy while wrk drives `scenario`;
    print the hottest frames and the self time of each package, in CPU us per request."""
    out = out_dir / f"profile-{target.name}-{scenario}.folded"
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    recorder = subprocess.Popen(
        [spy, "record", "--pid", str(pid), "--duration", str(seconds), "--rate", "250",
         "--format", "raw", "--output", str(out), "--nonblocking", "--subprocesses"],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    result = run_wrk(target, scenario, seconds, ids)
    print(result)
    recorder.wait(seconds + 30)
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in out.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = [f.strip() for f in stack.split(";")]
        total += int(count)
        own[frames[-1]] += int(count)
        for frame in set(frames):
            inclusive[frame] += int(count)
    for title, counter in (("inclusive", inclusive), ("self", own)):
        print(f"\ntop frames by {title} time ({total} samples)")
        for frame, samples in counter.most_common(30):
            print(f"{100 * samples / total:5.1f}%  {frame}")
    print(f"\nself time by package ({result['cpu_us']:.0f} CPU us/req in all)")
    print("\n".join(by_package(own, max(total, 1), result["cpu_us"])))
    print(f"\ncollapsed stacks in {out} (flamegraph.pl or speedscope.app read them)")


def choices(value: str, allowed: tuple[str, ...]) -> list[str]:
    """A comma-separated subset of `allowed`, in `allowed`'s order."""
    wanted = value.split(",")
    if unknown := set(wanted) - set(allowed):
        raise argparse.ArgumentTypeError(f"unknown: {', '.join(sorted(unknown))}")
    return [name for name in allowed if name in wanted]


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    p = argparse.ArgumentParser(prog="scripts/bench")
    p.add_argument("--rounds", type=int, default=3, help="alternating rounds (>= 3)")
    p.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    p.add_argument("--connections", type=int, default=32, help="wrk connections")
    p.add_argument("--seed", type=int, default=SEED, help="VMs created before measuring")
    p.add_argument(
        "--only",
        type=lambda v: choices(v, t.NAMES),
        default=list(t.NAMES),
        help=f"targets to measure, comma-separated (of {','.join(t.NAMES)})",
    )
    p.add_argument(
        "--scenarios",
        type=lambda v: choices(v, SCENARIOS),
        default=list(SCENARIOS),
        help=f"scenarios, comma-separated (of {','.join(SCENARIOS)})",
    )
    p.add_argument(
        "--server",
        choices=("uvicorn", "granian"),
        default=None,
        help="server of the service, litestar and floor targets (default: the one "
        "`python -m service serve` uses); fastapi always runs on uvicorn",
    )
    p.add_argument("--profile", choices=SCENARIOS, help="py-spy the service on one scenario")
    p.add_argument(
        "--profile-target",
        choices=list(t.SCENARIOS_OF),
        default="service",
        help="the target --profile records (default: service)",
    )
    p.add_argument("--layers", action="store_true", help="in-process CPU per GetVM, layer by layer")
    p.add_argument(
        "--odm",
        action="store_true",
        help="client CPU per op: PyMongo + msgspec against Beanie (overlay env)",
    )
    return p.parse_args(argv)  # fmt: skip


def machine(url: str, servers: dict[str, str]) -> dict[str, Any]:
    """CPU model, cores, Python, mongod version and the server of each target."""
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.partition(":")[2].strip()
            break
    client: MongoClient[dict[str, Any]]
    with MongoClient(url) as client:
        mongod = str(client.server_info()["version"])
    return {"cpu_model": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "mongod": mongod, "servers": servers}  # fmt: skip


def server_labels(server: str, names: list[str]) -> dict[str, str]:
    """`uvicorn 0.54.0`-style labels of each target's server (building the overlays ahead)."""
    mine = t.versions(t.server_overlay(server), [server])
    labels = {name: f"{server} {mine[server]}" for name in names if name != "fastapi"}
    if "fastapi" in names:
        v = t.versions(t.FASTAPI_OVERLAY, ["uvicorn", "fastapi", "beanie", "pydantic"])
        labels["fastapi"] = (f"uvicorn {v['uvicorn']} (FastAPI {v['fastapi']}, Beanie "
                             f"{v['beanie']}, pydantic {v['pydantic']})")  # fmt: skip
    return labels


def check_shapes(running: dict[str, t.Running], vm_id: str) -> None:
    """Every target answers GetVM and ListVMs with the service's JSON fields: a field the
    service does not answer fails; one the service answers and a target not (a field the
    service gained, e.g. `project`) is printed."""
    want: dict[str, set[str]] = {}
    for name, r in running.items():
        for scenario, path in (("get", f"/api/v1/vms/{vm_id}"), ("list", "/api/v1/vms")):
            if scenario in t.SCENARIOS_OF[name]:
                response = httpx.get(r.base_url + path, headers=r.headers)
                response.raise_for_status()
                body = response.json()
                keys = set(body) | set(body["items"][0]) if scenario == "list" else set(body)
                if name == "service":
                    want[scenario] = keys
                    continue
                lacks, extra = shape_gaps(want[scenario], keys)
                if extra:
                    raise SystemExit(f"{name}'s {scenario} answers what the service does not: "
                                     f"{sorted(extra)}")  # fmt: skip
                if lacks:
                    print(f"note: {name}'s {scenario} lacks {sorted(lacks)} (the service's)")


SETTLED_CPU_S = 0.005  # the service's CPU over SETTLE_STEP_S once it has caught up
SETTLE_STEP_S = 0.25


@contextlib.contextmanager
def others_running(service_pid: int, frozen: bool) -> Iterator[None]:
    """While another target runs (`frozen`), stop the service's processes: its change stream
    (the watch hub reads every change, watched or not) would otherwise follow that target's
    writes in the same collection, taking CPU from it. After, let the service read what it
    missed until it is idle again, before anything is measured of it."""
    if not frozen:
        yield
        return
    os.killpg(service_pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.killpg(service_pid, signal.SIGCONT)
        settle(service_pid)


def settle(pid: int) -> None:
    """Wait (at most 30 s) until `pid` uses next to no CPU: it has read what it missed."""
    deadline = time.monotonic() + 30
    spent = cpu_seconds(pid)
    while time.monotonic() < deadline:
        time.sleep(SETTLE_STEP_S)
        spent, before = cpu_seconds(pid), spent
        if spent - before < SETTLED_CPU_S:
            return


DELETES_PER_SECOND = 1500  # above any target's DeleteVM rate here: a pool never runs out


def measure(
    args: argparse.Namespace,
    running: dict[str, t.Running],
    ids_file: Path,
    pool: Callable[[Path], Path],
    url: str,
) -> list[Any]:
    """Warm up, then alternate the targets scenario by scenario, round by round; every DeleteVM
    run gets a pool of VMs of its own (`pool(path)` writes their ids). Each run's transactions
    aborted (with_transaction's retries among them) and write conflicts are counted."""
    vms_file = ids_file.with_name("vms.txt")
    wrk_targets = {
        name: Target(name, r.base_url, r.headers, ids_file, vms_file, args.connections, r.pid)
        for name, r in running.items()
        if name in args.only
    }
    for name, target in wrk_targets.items():  # warm-up: connection pools, caches
        for scenario in ("get", "create"):
            if scenario in t.SCENARIOS_OF[name]:
                run_wrk(target, scenario, 2 if scenario == "get" else 1)
    settle(running["service"].pid)  # its change stream read the warm-up's writes
    runs: list[dict[str, Any]] = []
    for round_no in range(max(args.rounds, 1)):
        for scenario in args.scenarios:
            order = [n for n in wrk_targets if scenario in t.SCENARIOS_OF[n]]
            for name in order if round_no % 2 == 0 else reversed(order):
                fresh = None
                if scenario == "delete":
                    fresh = pool(ids_file.with_name(f"delete-{name}-{round_no}.txt"))
                    settle(running["service"].pid)  # it read the pool's inserts
                before = transaction_counts(url)
                with others_running(running["service"].pid, name != "service"):
                    result = run_wrk(wrk_targets[name], scenario, args.duration, fresh)
                after = transaction_counts(url)
                result |= {f"txn_{k}": after[k] - before[k] for k in after}
                result |= {"round": round_no, "scenario": scenario, "target": name}
                runs.append(result)
                txns = result["txn_aborted"] + result["txn_committed"]
                print(f"round {round_no + 1} {scenario:6} {name:14} {result['rps']:8.0f} req/s"
                      f"  p50 {result['p50_ms']:.2f} ms  p99 {result['p99_ms']:.2f} ms"
                      f"  {result['cpu_us']:.0f} CPU us/req  non-2xx {result['non_2xx']}"
                      f"  socket errors {result['socket_errors']}  transactions aborted "
                      f"{result['txn_aborted']} of {txns},"
                      f" write conflicts {result['txn_write_conflicts']}", flush=True)  # fmt: skip
    return runs


def main() -> int:
    """Start mongod and the targets; run alternating rounds; print and save figures."""
    args = parse()
    if args.layers:
        from bench import layers

        layers.main([])
        return 0
    if args.odm:
        command = [*t.python(t.FASTAPI_OVERLAY), "-m", "bench.odm"]
        return subprocess.run(command, cwd=t.ROOT, check=False).returncode
    server = args.server or t.service_server()
    names = ["service", *[n for n in args.only if n != "service"]]
    if args.profile:  # the service seeds the database
        names = list(dict.fromkeys(["service", args.profile_target]))
    out_dir = t.ROOT / ".bench"
    out_dir.mkdir(exist_ok=True)
    db = "bench"
    running: dict[str, t.Running] = {}
    with tempfile.TemporaryDirectory(prefix="vm-bench-") as tmp:
        mongod = LocalMongod(Path(tmp) / "mongo", free_port())
        url = mongod.start()
        try:
            servers = server_labels(server, names)
            for name in names:  # the service first: it migrates the database and seeds it
                running[name] = t.start(name, server, url, db, Path(tmp))
                r = running[name]
                print(f"{name}: {t.DESCRIPTIONS[name]}; `{r.command}` on {servers[name]} at "
                      f"{r.base_url}", flush=True)  # fmt: skip
                if name == "service":
                    started = time.monotonic()
                    service = running["service"]
                    vms = asyncio.run(seed(service.base_url, service.headers, args.seed))
                    ids = [vm["id"] for vm in vms]
                    print(f"seeded {args.seed} VMs in {time.monotonic() - started:.1f}s")
                    mongo: MongoClient[dict[str, Any]]
                    with MongoClient(url) as mongo:  # a VM as stored by its create, unchanged
                        template: dict[str, Any] = (
                            mongo[db]["vms"].find_one({"_id": ObjectId(ids[-1])}) or {}
                        )
            check_shapes(running, ids[0])
            ids_file = Path(tmp) / "ids.txt"
            ids_file.write_text("\n".join(ids) + "\n")
            ids_file.with_name("vms.txt").write_text("\n".join(map(replace_line, vms)) + "\n")
            size = args.duration * DELETES_PER_SECOND

            def pool(path: Path) -> Path:
                return delete_pool(url, db, template, size, path)

            if args.profile:
                chosen = running[args.profile_target]
                target = Target(chosen.name, chosen.base_url, chosen.headers, ids_file,
                                ids_file.with_name("vms.txt"), args.connections,
                                chosen.pid)  # fmt: skip
                fresh = pool(ids_file.with_name("delete.txt")) if args.profile == "delete" else None
                with others_running(service.pid, chosen.name != "service"):
                    profile(chosen.pid, target, args.profile, args.duration * 2, out_dir, fresh)
                return 0
            runs = measure(args, running, ids_file, pool, url)
            rss = peak_rss_mb(service.pid)
            about = machine(url, servers)
        finally:
            for r in reversed(running.values()):
                r.stop()
            mongod.stop()
    summary = summarize(runs)
    goals = ratios(runs, summary)
    p99_goals = p99_ratios(summary)
    missed = report(summary, goals, rss, p99_goals)
    print(f"machine: {about['cpu_model']}, {about['cores']} cores, Python {about['python']}, "
          f"mongod {about['mongod']}; servers: {about['servers']}")  # fmt: skip
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    result_doc = {
        "when": stamp, "machine": about, "settings": vars(args) | {"server": server},
        "summary": summary, "goals": goals, "p99_goals": p99_goals, "service_peak_rss_mb": rss,
        "missed": missed,
        "runs": runs,
    }  # fmt: skip
    for path in (out_dir / f"bench-{stamp}.json", out_dir / "latest.json"):
        path.write_text(json.dumps(result_doc, indent=2) + "\n")
    (out_dir / "latest.md").write_text(markdown(summary, goals, rss, about, p99_goals))
    print(f"figures written to {out_dir / f'bench-{stamp}.json'}, latest.json and latest.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
