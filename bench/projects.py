"""CreateVM into projects with quotas against today's create, in one run: `python -m bench.projects
[--rounds N] [--duration S] [--connections C]` (scripts/bench-projects).

The service as `scripts/bench` runs it, on one mongod; wrk at C connections, the cases alternated
round by round. Cases: today's create (an unrestricted key: project `default`, no limits); one
project with a quota on all four resources, far above what the run creates (every create checks
it and charges its ledger); one project without limits; ten such limited projects, each request
naming one at random. The quota never refuses: what is measured is its cost.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench import targets as t
from bench.wrk import _DONE, Target, run_wrk
from service.storage.mongod import LocalMongod, free_port

BIG = 100_000_000  # a quota no run reaches
QUOTA = {"vms": BIG, "cpu_cores": BIG, "memory_mib": BIG * 1024, "storage_gib": BIG}
TEN = [f"team-{i}" for i in range(10)]
# case: (the projects its key is restricted to (None: unrestricted), the projects its requests
# name (empty: none, the key's default project), the goal against today's create)
CASES: dict[str, tuple[list[str] | None, list[str], float | None]] = {
    "today": (None, [], None),
    "one limited project": (["limited"], [], 0.5),
    "one project, no limits": (["unlimited"], [], None),
    "10 limited projects": (TEN, TEN, 0.8),
}
CREATE = r"""
local counter = 0
local prefix = os.getenv("BENCH_PREFIX")
local projects = {}
for p in string.gmatch(os.getenv("BENCH_PROJECTS") or "", "[^,]+") do
  projects[#projects + 1] = p
end
wrk.headers["Content-Type"] = "application/json"
request = function()
  counter = counter + 1
  local project = ""
  if #projects > 0 then
    project = string.format('"project":"%s",', projects[math.random(#projects)])
  end
  return wrk.format("POST", "/api/v1/vms", nil, string.format(
    '{%s"name":"%s-%d-%d","os":"ubuntu-24.04","cpu_cores":2,"memory_mib":2048,' ..
    '"storage_gib":20,"ip_address":"10.0.0.5","labels":{"env":"bench"}}',
    project, prefix, tid, counter))
end
"""


def api_key(url: str, db: str, name: str, projects: list[str] | None) -> str:
    """`python -m service apikey create --scope write [--project P]...`; the token."""
    command = [sys.executable, "-m", "service", "apikey", "create", "--name", name]
    command += ["--scope", "write", *(a for p in projects or [] for a in ("--project", p))]
    env = {**os.environ, "MONGODB_URL": url, "MONGODB_DB": db}
    done = subprocess.run(command, cwd=t.ROOT, env=env, capture_output=True, text=True, check=True)
    return done.stdout.strip().splitlines()[-1]


def make_projects(service: t.Running) -> None:
    """CreateProject for every project a case names (the admin key `dev`)."""
    with httpx.Client(base_url=service.base_url, headers=service.headers, timeout=30) as client:
        for name in ["limited", *TEN]:
            client.post("/api/v1/projects", json={"name": name, "quota": QUOTA}).raise_for_status()
        client.post("/api/v1/projects", json={"name": "unlimited"}).raise_for_status()


def targets(service: t.Running, url: str, db: str, scratch: Path, c: int) -> dict[str, Target]:
    """One wrk target per case: its key, and its script naming its projects."""
    script = scratch / "create-in-projects.lua"
    script.write_text(CREATE + _DONE)
    out = {}
    for i, (case, (restricted, _, _)) in enumerate(CASES.items()):
        headers = service.headers
        if restricted is not None:
            headers = {"Authorization": f"Bearer {api_key(url, db, f'bench-{i}', restricted)}"}
        target = Target(
            case, service.base_url, headers, scratch / "ids.txt", connections=c, pid=service.pid
        )
        target.scripts["create"] = script
        out[case] = target
    return out


def run(target: Target, seconds: int) -> dict[str, Any]:
    """One wrk run of `target`'s case."""
    os.environ["BENCH_PROJECTS"] = ",".join(CASES[target.name][1])
    return run_wrk(target, "create", seconds)


def main() -> int:
    """Start mongod and the service; alternate the cases; print the ratios and save them."""
    p = argparse.ArgumentParser(prog="scripts/bench-projects", description=__doc__)
    p.add_argument("--rounds", type=int, default=5, help="alternating rounds")
    p.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    p.add_argument("--connections", type=int, default=32, help="wrk connections")
    args = p.parse_args()
    db = "bench_projects"
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="vm-bench-projects-") as tmp:
        scratch = Path(tmp)
        (scratch / "ids.txt").write_text("")
        mongod = LocalMongod(scratch / "mongo", free_port())
        url = mongod.start()
        service = None
        try:
            service = t.start("service", t.service_server(), url, db, scratch)
            print(f"service: `{service.command}` at {service.base_url}", flush=True)
            make_projects(service)
            cases = targets(service, url, db, scratch, args.connections)
            for target in cases.values():  # warm-up: pools, caches, every project's ledger
                run(target, 2)
            for round_no in range(args.rounds):
                order = list(cases.values())
                for target in order if round_no % 2 == 0 else reversed(order):
                    result = run(target, args.duration) | {"round": round_no, "case": target.name}
                    runs.append(result)
                    print(f"round {round_no + 1} {target.name:24} {result['rps']:7.0f} req/s  "
                          f"p50 {result['p50_ms']:6.2f} ms  p99 {result['p99_ms']:6.2f} ms  "
                          f"{result['cpu_us']:5.0f} CPU us/req  non-2xx {result['non_2xx']}  "
                          f"socket errors {result['socket_errors']}", flush=True)  # fmt: skip
        finally:
            if service is not None:
                service.stop()
            mongod.stop()
    return report(runs, args.connections)


def report(runs: list[dict[str, Any]], connections: int) -> int:
    """Median figures per case, ratios against today's create; 1 when a goal is missed."""
    median = {
        case: {k: statistics.median(r[k] for r in runs if r["case"] == case)
               for k in ("rps", "p50_ms", "p99_ms", "cpu_us")}
        for case in CASES
    }  # fmt: skip
    errors = sum(r["non_2xx"] + r["socket_errors"] for r in runs)
    today = median["today"]
    print(f"\nCreateVM at c{connections}, medians of {len(runs) // len(CASES)} rounds; "
          "ratio = req/s against today's create (goal)")  # fmt: skip
    print(f"  {'case':<24} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'CPU us':>7} {'ratio':>6}")
    missed = False
    goals = {}
    for case, (_, _, goal) in CASES.items():
        m = median[case]
        ratio = m["rps"] / today["rps"]
        goals[case] = {"ratio": ratio, "goal": goal}
        verdict = "" if goal is None else f" (>= {goal}: {'ok' if ratio >= goal else 'MISSED'})"
        missed |= goal is not None and ratio < goal
        print(f"  {case:<24} {m['rps']:7.0f} {m['p50_ms']:7.2f} {m['p99_ms']:7.2f} "
              f"{m['cpu_us']:7.0f} {ratio:6.2f}{verdict}")  # fmt: skip
    print(f"non-2xx and socket errors over the run: {errors}")
    out = t.ROOT / ".bench"
    out.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    doc = {"when": stamp, "median": median, "goals": goals, "errors": errors, "runs": runs}
    (out / "projects-latest.json").write_text(json.dumps(doc, indent=2) + "\n")
    print(f"figures written to {out / 'projects-latest.json'}")
    return 1 if missed or errors else 0


if __name__ == "__main__":
    sys.exit(main())
