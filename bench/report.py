"""The figures of a run: medians per scenario and target, ratios against the goals, Markdown."""

from __future__ import annotations

import statistics
from typing import Any

from bench.wrk import NAMES as OPERATIONS

MAX_RSS_MB = 200
# (scenario, the service against this target, goal: the service's req/s at least this many times
# the target's; None = reported, no goal). Issue 24's goals, then what is reported beside them.
GOALS: list[tuple[str, str, float | None]] = [
    ("patch", "floor-txn", 0.8),
    ("put", "floor-txn", 0.8),
    ("create", "floor-txn", 0.8),
    ("delete", "floor-txn", None),
    ("patch", "floor-embedded", None),
    ("put", "floor-embedded", None),
    ("delete", "floor-embedded", None),
    ("get", "litestar-tuned", 0.9),
    ("list", "litestar-tuned", 0.9),
    ("get", "litestar", None),
    ("list", "litestar", None),
    ("get", "fastapi", 1.5),
    ("list", "fastapi", 2.5),
    ("create", "fastapi", 1.0),
    ("patch", "fastapi", 1.5),
    ("get", "floor", None),
    ("list", "floor", None),
    ("create", "floor", None),
]
# (scenario, other scenario, bound): the service's p99 of the first under `bound` times the
# second's.
P99_GOALS: list[tuple[str, str, float]] = [("patch", "create", 2.0)]
FIGURES = ("rps", "p50_ms", "p99_ms", "cpu_us", "non_2xx", "socket_errors")


def summarize(runs: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, float]]]:
    """Median figures per scenario and target (over rounds)."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for run in runs:
        out.setdefault(run["scenario"], {}).setdefault(run["target"], {})
    for scenario, targets in out.items():
        for target in targets:
            mine = [r for r in runs if r["scenario"] == scenario and r["target"] == target]
            targets[target] = {key: statistics.median(r[key] for r in mine) for key in FIGURES}
            targets[target]["errors"] = sum(r["non_2xx"] + r["socket_errors"] for r in mine)
    return out


def judged(ratio: float, goal: float | None, at_most: bool = False) -> bool | None:
    """Whether `ratio` meets `goal` (at least it; under it with `at_most`); None: no goal or no
    figure (NaN)."""
    if goal is None or ratio != ratio:
        return None
    return ratio < goal if at_most else ratio >= goal


def ratios(runs: list[dict[str, Any]], summary: dict[str, Any]) -> list[dict[str, Any]]:
    """Each goal measured in this run: the ratio of the medians, and each round's own ratio;
    a goal whose figures are missing (a target or scenario left out) with ratio NaN."""
    out = []
    for scenario, other, goal in GOALS:
        figures = summary.get(scenario, {})
        if "service" not in figures or other not in figures:
            out.append({"scenario": scenario, "against": other, "ratio": float("nan"),
                        "goal": goal, "ok": None, "rounds": [], "paired_ratio": float("nan"),
                        "cpu_ratio": float("nan"), "cpu_us": float("nan"),
                        "against_cpu_us": float("nan"), "measured": False})  # fmt: skip
            continue
        by_round: dict[int, dict[str, float]] = {}
        for r in runs:
            if r["scenario"] == scenario and r["target"] in ("service", other):
                by_round.setdefault(r["round"], {})[r["target"]] = r["rps"]
        rounds = [p["service"] / p[other] for p in by_round.values() if len(p) == 2]
        ratio = figures["service"]["rps"] / figures[other]["rps"]
        cpu = figures[other]["cpu_us"] / max(figures["service"]["cpu_us"], 1e-9)
        paired = statistics.median(rounds) if rounds else float("nan")
        # a target answering errors did not do the work: its figure proves nothing
        errors = figures["service"]["errors"] + figures[other]["errors"]
        out.append({"scenario": scenario, "against": other, "ratio": ratio, "goal": goal,
                    "ok": None if errors else judged(ratio, goal), "errors": errors,
                    "rounds": rounds, "paired_ratio": paired,
                    "cpu_ratio": cpu, "cpu_us": figures["service"]["cpu_us"],
                    "against_cpu_us": figures[other]["cpu_us"], "measured": True})  # fmt: skip
    return out


def p99_ratios(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """Each P99_GOALS entry: the service's p99 of one scenario over its p99 of another."""
    out = []
    for scenario, other, bound in P99_GOALS:
        mine = summary.get(scenario, {}).get("service")
        theirs = summary.get(other, {}).get("service")
        ratio = mine["p99_ms"] / theirs["p99_ms"] if mine and theirs else float("nan")
        out.append({"scenario": scenario, "against": other, "ratio": ratio, "goal": bound,
                    "ok": judged(ratio, bound, at_most=True),
                    "p99_ms": mine["p99_ms"] if mine else float("nan"),
                    "against_p99_ms": theirs["p99_ms"] if theirs else float("nan"),
                    "cpu_us": mine["cpu_us"] if mine else float("nan"),
                    "against_cpu_us": theirs["cpu_us"] if theirs else float("nan"),
                    "measured": bool(mine and theirs)})  # fmt: skip
    return out


def verdict(ok: bool | None, errors: float = 0) -> str:
    """ok, MISSED, - (no goal), or "not judged" (errors answered)."""
    if errors:
        return "not judged (errors)"
    return "-" if ok is None else "ok" if ok else "MISSED"


def goal_line(g: dict[str, Any]) -> str:
    """One goal as a line: the operation, the ratio, the goal's verdict, CPU per request."""
    name = f"{OPERATIONS[g['scenario']]} vs {g['against']}"
    if not g["measured"]:
        return f"  {name:28} not measured (target or scenario left out)"
    want = "no goal" if g["goal"] is None else f"goal >= {g['goal']}x"
    if g.get("errors"):
        want = f"not judged: {g['errors']:.0f} non-2xx answers or socket errors"
    rounds = ", ".join(f"{r:.2f}" for r in g["rounds"])
    return (f"  {name:28} {g['ratio']:5.2f}x  ({want}: {verdict(g['ok'])}; rounds {rounds}, "
            f"median {g['paired_ratio']:.2f}x; CPU us/req {g['cpu_us']:.0f} vs "
            f"{g['against_cpu_us']:.0f}, {g['cpu_ratio']:.2f}x)")  # fmt: skip


def p99_line(g: dict[str, Any]) -> str:
    """One p99 goal as a line."""
    name = f"{OPERATIONS[g['scenario']]} p99 / {OPERATIONS[g['against']]} p99"
    if not g["measured"]:
        return f"  {name:28} not measured (scenario left out)"
    return (f"  {name:28} {g['ratio']:5.2f}x  (goal < {g['goal']}x: {verdict(g['ok'])}; "
            f"{g['p99_ms']:.1f} vs {g['against_p99_ms']:.1f} ms; CPU us/req {g['cpu_us']:.0f} "
            f"vs {g['against_cpu_us']:.0f})")  # fmt: skip


def report(
    summary: dict[str, Any],
    goals: list[dict[str, Any]],
    rss: float,
    p99_goals: list[dict[str, Any]] | None = None,
) -> list[str]:
    """Print the tables and every goal as ok or MISSED; return what missed its goal."""
    print(f"\n{'scenario':8} {'target':14} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'CPU us/req':>10} {'errors':>7}")  # fmt: skip
    for scenario, targets in summary.items():
        for target, f in targets.items():
            print(f"{scenario:8} {target:14} {f['rps']:8.0f} {f['p50_ms']:8.2f} "
                  f"{f['p99_ms']:8.2f} {f['cpu_us']:10.0f} {f['errors']:7.0f}")  # fmt: skip
    print(
        "\nservice req/s / target req/s: the ratio of the medians (checked against the goal); "
        "each round's ratio and their median;\nCPU per request, the service's vs the target's, "
        "and the target's / the service's (steadier on a busy machine)"
    )
    missed = []
    for g in goals:
        print(goal_line(g))
        if g["ok"] is False:
            missed.append(f"{g['scenario']} vs {g['against']}")
    for g in p99_goals or []:
        print(p99_line(g))
        if g["ok"] is False:
            missed.append(f"{g['scenario']} p99 vs {g['against']} p99")
    rss_ok = rss < MAX_RSS_MB
    print(f"service peak RSS: {rss:.0f} MB (goal < {MAX_RSS_MB}: {verdict(rss_ok)})")
    if not rss_ok:
        missed.append("rss")
    errors = [f"{s}/{t}" for s, ts in summary.items() for t, f in ts.items() if f["errors"]]
    if errors:
        print(f"WARNING: non-2xx responses or socket errors in {', '.join(errors)}")
    return missed


def markdown(
    summary: dict[str, Any],
    goals: list[dict[str, Any]],
    rss: float,
    machine: dict[str, Any],
    p99_goals: list[dict[str, Any]] | None = None,
) -> str:
    """The figures as Markdown tables (for README's Performance section)."""
    servers = machine["servers"]
    lines = [
        "| scenario | target | server | req/s | p50 / p99 ms | CPU us/req |",
        "|---|---|---|---|---|---|",
    ]
    for scenario, targets in summary.items():
        for target, f in targets.items():
            cells = [OPERATIONS[scenario], target, servers.get(target, "?"), f"{f['rps']:.0f}",
                     f"{f['p50_ms']:.1f} / {f['p99_ms']:.1f}", f"{f['cpu_us']:.0f}"]  # fmt: skip
            lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "| goal | service / target req/s (ratio of medians) | goal | result "
        "| median of per-round ratios | CPU us/req service vs target |",
        "|---|---|---|---|---|---|",
    ]
    for g in goals:
        if not g["measured"]:
            continue
        goal = "-" if g["goal"] is None else f">= {g['goal']}x"
        result = verdict(g["ok"], g.get("errors", 0))
        lines.append(f"| {OPERATIONS[g['scenario']]} | vs {g['against']}: {g['ratio']:.2f}x "
                     f"| {goal} | {result} | {g['paired_ratio']:.2f}x "
                     f"| {g['cpu_us']:.0f} vs {g['against_cpu_us']:.0f} |")  # fmt: skip
    for g in p99_goals or []:
        if g["measured"]:
            lines.append(f"| {OPERATIONS[g['scenario']]} p99 | {g['p99_ms']:.1f} ms vs "
                         f"{OPERATIONS[g['against']]} {g['against_p99_ms']:.1f} ms: "
                         f"{g['ratio']:.2f}x | < {g['goal']}x | {verdict(g['ok'])} | - "
                         f"| {g['cpu_us']:.0f} vs {g['against_cpu_us']:.0f} |")  # fmt: skip
    lines.append(f"\nService peak RSS: {rss:.0f} MB (goal < {MAX_RSS_MB}: "
                 f"{verdict(rss < MAX_RSS_MB)}).")  # fmt: skip
    lines.append(f"Machine: {machine['cpu_model']}, {machine['cores']} cores, Python "
                 f"{machine['python']}, mongod {machine['mongod']}.")  # fmt: skip
    return "\n".join(lines) + "\n"
