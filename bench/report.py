"""The figures of a run: medians per scenario and target, ratios against the goals, Markdown."""

from __future__ import annotations

import statistics
from typing import Any

MAX_RSS_MB = 200
# (scenario, the service against this target, goal: the service's req/s at least this many times
# the target's; None = reported, no goal)
GOALS: list[tuple[str, str, float | None]] = [
    ("get", "litestar", 0.9),
    ("list", "litestar", 0.9),
    ("create", "floor-txn", 0.8),
    ("create", "fastapi", 1.0),
    ("get", "fastapi", 1.5),
    ("list", "fastapi", 2.5),
    ("get", "floor", None),
    ("list", "floor", None),
    ("create", "floor", None),
]
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


def ratios(runs: list[dict[str, Any]], summary: dict[str, Any]) -> list[dict[str, Any]]:
    """Each goal measured in this run: the ratio of the medians, and each round's own ratio."""
    out = []
    for scenario, other, goal in GOALS:
        figures = summary.get(scenario, {})
        if "service" not in figures or other not in figures:
            continue
        by_round: dict[int, dict[str, float]] = {}
        for r in runs:
            if r["scenario"] == scenario and r["target"] in ("service", other):
                by_round.setdefault(r["round"], {})[r["target"]] = r["rps"]
        rounds = [p["service"] / p[other] for p in by_round.values() if len(p) == 2]
        ratio = figures["service"]["rps"] / figures[other]["rps"]
        cpu = figures[other]["cpu_us"] / max(figures["service"]["cpu_us"], 1e-9)
        ok = None if goal is None else ratio >= goal
        paired = statistics.median(rounds) if rounds else float("nan")
        out.append({"scenario": scenario, "against": other, "ratio": ratio, "goal": goal,
                    "ok": ok, "rounds": rounds, "paired_ratio": paired,
                    "cpu_ratio": cpu})  # fmt: skip
    return out


def verdict(ok: bool | None) -> str:
    """ok, MISSED, or - (no goal)."""
    return "-" if ok is None else "ok" if ok else "MISSED"


def report(summary: dict[str, Any], goals: list[dict[str, Any]], rss: float) -> list[str]:
    """Print the tables; return what missed its goal."""
    print(f"\n{'scenario':8} {'target':10} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'CPU us/req':>10} {'errors':>7}")  # fmt: skip
    for scenario, targets in summary.items():
        for target, f in targets.items():
            print(f"{scenario:8} {target:10} {f['rps']:8.0f} {f['p50_ms']:8.2f} "
                  f"{f['p99_ms']:8.2f} {f['cpu_us']:10.0f} {f['errors']:7.0f}")  # fmt: skip
    print(
        "\nservice req/s / target req/s: the ratio of the medians (checked against the goal); "
        "each round's ratio and their median;\nthe target's CPU per request / the service's "
        "(steadier on a busy machine)"
    )
    missed = []
    for g in goals:
        want = "no goal" if g["goal"] is None else f"goal >= {g['goal']}x"
        rounds = ", ".join(f"{r:.2f}" for r in g["rounds"])
        print(f"  {g['scenario']:6} vs {g['against']:10} {g['ratio']:5.2f}x  ({want}: "
              f"{verdict(g['ok'])}; rounds {rounds}, median {g['paired_ratio']:.2f}x; "
              f"CPU {g['cpu_ratio']:.2f}x)")  # fmt: skip
        if g["ok"] is False:
            missed.append(f"{g['scenario']} vs {g['against']}")
    rss_ok = rss < MAX_RSS_MB
    print(f"service peak RSS: {rss:.0f} MB (goal < {MAX_RSS_MB}: {verdict(rss_ok)})")
    if not rss_ok:
        missed.append("rss")
    errors = [f"{s}/{t}" for s, ts in summary.items() for t, f in ts.items() if f["errors"]]
    if errors:
        print(f"WARNING: non-2xx responses or socket errors in {', '.join(errors)}")
    return missed


def markdown(
    summary: dict[str, Any], goals: list[dict[str, Any]], rss: float, machine: dict[str, Any]
) -> str:
    """The figures as Markdown tables (for README's Performance section)."""
    servers = machine["servers"]
    lines = [
        "| scenario | target | server | req/s | p50 / p99 ms | CPU us/req |",
        "|---|---|---|---|---|---|",
    ]
    for scenario, targets in summary.items():
        for target, f in targets.items():
            cells = [scenario, target, servers.get(target, "?"), f"{f['rps']:.0f}",
                     f"{f['p50_ms']:.1f} / {f['p99_ms']:.1f}", f"{f['cpu_us']:.0f}"]  # fmt: skip
            lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "| scenario | service / target req/s (ratio of medians) | goal | result "
        "| median of per-round ratios | CPU/req target / service |",
        "|---|---|---|---|---|---|",
    ]
    for g in goals:
        goal = "-" if g["goal"] is None else f">= {g['goal']}x"
        lines.append(f"| {g['scenario']} | vs {g['against']}: {g['ratio']:.2f}x | {goal} "
                     f"| {verdict(g['ok'])} | {g['paired_ratio']:.2f}x "
                     f"| {g['cpu_ratio']:.2f}x |")  # fmt: skip
    lines.append(f"\nService peak RSS: {rss:.0f} MB (goal < {MAX_RSS_MB}: "
                 f"{verdict(rss < MAX_RSS_MB)}).")  # fmt: skip
    lines.append(f"Machine: {machine['cpu_model']}, {machine['cores']} cores, Python "
                 f"{machine['python']}, mongod {machine['mongod']}.")  # fmt: skip
    return "\n".join(lines) + "\n"
