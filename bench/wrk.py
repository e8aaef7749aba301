"""The wrk scenarios (Lua scripts) and one wrk run's figures."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Every script ends with this: one JSON line with the figures of the run.
_DONE = r"""
local tid = 0
local next_tid = 0
setup = function(thread) thread:set("tid", next_tid); next_tid = next_tid + 1 end
init = function(args) math.randomseed(os.time() * 100 + tid) end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "non_2xx": %d, "socket_errors": %d, ' ..
    '"p50_us": %d, "p99_us": %d}\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""

_IDS = r"""
local ids = {}
for line in io.lines(os.getenv("BENCH_IDS")) do ids[#ids + 1] = line end
"""

_VM = (
    '{"name":"%s-%d-%d","os":"ubuntu-24.04","cpu_cores":2,"memory_mib":2048,'
    '"storage_gib":20,"ip_address":"10.0.0.5","labels":{"env":"bench"}}'
)

SCRIPTS = {
    "get": _IDS
    + r"""
request = function()
  return wrk.format("GET", "/api/v1/vms/" .. ids[math.random(#ids)])
end
""",
    "list": r"""
wrk.path = "/api/v1/vms?page_size=50"
""",
    "create": r"""
local counter = 0
local prefix = os.getenv("BENCH_PREFIX")
wrk.headers["Content-Type"] = "application/json"
request = function()
  counter = counter + 1
  return wrk.format("POST", "/api/v1/vms", nil, string.format('"""
    + _VM
    + r"""', prefix, tid, counter))
end
""",
    "patch": _IDS
    + r"""
local counter = 0
wrk.headers["Content-Type"] = "application/merge-patch+json"
request = function()
  counter = counter + 1
  local body = '{"labels":{"bench":"' .. counter .. '"}}'
  return wrk.format("PATCH", "/api/v1/vms/" .. ids[math.random(#ids)], nil, body)
end
""",
    # BENCH_VMS: "id<TAB>ReplaceVM body" lines, the body's description "@D@" (set per request).
    "put": r"""
local vms = {}
for line in io.lines(os.getenv("BENCH_VMS")) do
  local tab = line:find("\t", 1, true)
  vms[#vms + 1] = {line:sub(1, tab - 1), line:sub(tab + 1)}
end
local counter = 0
wrk.headers["Content-Type"] = "application/json"
request = function()
  counter = counter + 1
  local vm = vms[math.random(#vms)]
  local body = vm[2]:gsub("@D@", "r" .. tid .. "-" .. counter)
  return wrk.format("PUT", "/api/v1/vms/" .. vm[1], nil, body)
end
""",
    # BENCH_IDS: a pool of VMs of this run alone, each deleted once (a 404 once it runs out).
    "delete": _IDS
    + r"""
local next_id = 0
request = function()
  next_id = next_id + 1
  return wrk.format("DELETE", "/api/v1/vms/" .. ids[(next_id - 1) % #ids + 1])
end
""",
}
SCENARIOS = tuple(SCRIPTS)
NAMES = {"get": "GetVM", "list": "ListVMs", "create": "CreateVM", "patch": "UpdateVM",
         "put": "ReplaceVM", "delete": "DeleteVM"}  # fmt: skip
"""Each scenario's operation."""
REPLACE_DESCRIPTION = "@D@"
"""The placeholder of a ReplaceVM body's description in BENCH_VMS (a new one per request)."""


@dataclass
class Target:
    """One HTTP server under test."""

    name: str
    base_url: str
    headers: dict[str, str]
    ids_file: Path
    vms_file: Path | None = None
    connections: int = 32
    pid: int = 0
    scripts: dict[str, Path] = field(default_factory=dict)


def _script(target: Target, scenario: str) -> Path:
    if scenario not in target.scripts:
        scratch = target.ids_file.parent  # the run's temporary folder, removed after it
        path = Path(
            tempfile.mkstemp(prefix=f"{target.name}-{scenario}-", suffix=".lua", dir=scratch)[1]
        )
        path.write_text(SCRIPTS[scenario] + _DONE)
        target.scripts[scenario] = path
    return target.scripts[scenario]


def tree(pid: int) -> list[int]:
    """`pid` and its descendants (a target started through `uv run` is uv's child)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        found.append(todo.pop())
        todo += children.get(found[-1], [])
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process and its descendants have used so far."""
    total = 0
    for member in tree(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float:
    """Peak resident set size (VmHWM) of the process and its descendants, added up, in MB."""
    total = 0
    for member in tree(pid):
        try:
            lines = Path(f"/proc/{member}/status").read_text().splitlines()
        except OSError:
            continue
        total += sum(int(line.split()[1]) for line in lines if line.startswith("VmHWM:"))
    return total * 1024 / 1e6


def run_wrk(
    target: Target, scenario: str, seconds: int, ids_file: Path | None = None
) -> dict[str, Any]:
    """Drive `target` with one scenario for `seconds`; return req/s, p50/p99 (ms) and errors.
    `ids_file` replaces the target's VM ids (the delete scenario's pool of this run).

    Also the server's CPU time per request (`cpu_us`): steadier than req/s on a busy machine.
    """
    command = ["wrk", "-t1", f"-c{target.connections}", f"-d{seconds}s", "--timeout", "10s"]
    for name, value in target.headers.items():
        command += ["-H", f"{name}: {value}"]
    command += ["-s", str(_script(target, scenario)), target.base_url]
    env = {**os.environ, "BENCH_IDS": str(ids_file or target.ids_file)}
    env["BENCH_VMS"] = str(target.vms_file or target.ids_file)
    env["BENCH_PREFIX"] = f"b{uuid.uuid4().hex[:10]}"
    cpu_before = cpu_seconds(target.pid) if target.pid else 0.0
    out = subprocess.run(command, capture_output=True, text=True, env=env, check=True).stdout
    cpu = cpu_seconds(target.pid) - cpu_before if target.pid else 0.0
    figures = json.loads(out.strip().splitlines()[-1])
    seconds_run = figures["duration_us"] / 1e6
    return {
        "rps": figures["requests"] / seconds_run,
        "p50_ms": figures["p50_us"] / 1000,
        "p99_ms": figures["p99_us"] / 1000,
        "non_2xx": figures["non_2xx"],
        "socket_errors": figures["socket_errors"],
        "requests": figures["requests"],
        "cpu_us": cpu * 1e6 / max(figures["requests"], 1),
    }
