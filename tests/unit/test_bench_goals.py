"""scripts/bench's goal verdicts and run data (pure functions; no timing)."""

from __future__ import annotations

import importlib
import json
import math
from typing import Any

import msgspec
import pytest

from bench.data import replace_line, shape_gaps
from bench.report import GOALS, goal_line, judged, p99_ratios, ratios, summarize
from bench.shapes import plain
from bench.wrk import REPLACE_DESCRIPTION, SCENARIOS
from service.domain.schemas import WRITABLE_FIELDS


def run(scenario: str, target: str, rps: float, round_no: int = 0, p99: float = 10.0) -> Any:
    """One wrk run's figures."""
    return {"scenario": scenario, "target": target, "round": round_no, "rps": rps,
            "p50_ms": 1.0, "p99_ms": p99, "cpu_us": 1e6 / rps, "non_2xx": 0,
            "socket_errors": 0}  # fmt: skip


def test_judged_at_least_at_most_and_no_goal() -> None:
    assert judged(0.8, 0.8) is True
    assert judged(0.79, 0.8) is False
    assert judged(1.9, 2.0, at_most=True) is True
    assert judged(2.0, 2.0, at_most=True) is False
    assert judged(5.0, None) is None
    assert judged(math.nan, 0.8) is None


def test_every_goal_is_reported_measured_or_not() -> None:
    runs = [run("patch", "service", 400, r) for r in (0, 1)]
    runs += [run("patch", "floor-txn", 450, 0), run("patch", "floor-txn", 550, 1)]
    goals = ratios(runs, summarize(runs))
    assert [(g["scenario"], g["against"]) for g in goals] == [(s, o) for s, o, _ in GOALS]
    update = goals[0]
    assert (update["scenario"], update["against"], update["measured"]) == (
        "patch",
        "floor-txn",
        True,
    )
    assert update["ratio"] == 0.8 and update["ok"] is True
    assert update["cpu_us"] == 2500 and round(update["against_cpu_us"]) == 2020
    assert sorted(round(r, 3) for r in update["rounds"]) == [0.727, 0.889]
    missing = [g for g in goals if not g["measured"]]
    assert missing and all(g["ok"] is None and math.isnan(g["ratio"]) for g in missing)


def test_update_p99_against_create_p99() -> None:
    runs = [run("patch", "service", 300, p99=250.0), run("create", "service", 900, p99=100.0)]
    (goal,) = p99_ratios(summarize(runs))
    assert (goal["ratio"], goal["ok"]) == (2.5, False)
    (unmeasured,) = p99_ratios(summarize(runs[:1]))
    assert unmeasured["measured"] is False and unmeasured["ok"] is None


def test_shapes_tolerate_a_field_the_service_gained() -> None:
    service = {"id", "name", "project", "watch_token"}
    assert shape_gaps(service, {"id", "name"}) == ({"project"}, set())
    assert shape_gaps(service, {"id", "name", "extra"}) == ({"project"}, {"extra"})


def test_replace_body_keeps_the_writable_fields_the_service_answered() -> None:
    vm = {"id": "665f1c2e8b3e4a0012345678", "name": "a", "status": "running", "os": "x",
          "cpu_cores": 1, "memory_mib": 128, "storage_gib": 1, "ip_address": None,
          "labels": {"env": "b"}, "description": "old", "revision": 3,
          "created_at": "2026-01-01T00:00:00.000Z", "future_field": "kept out"}  # fmt: skip
    vm_id, _, body = replace_line(vm).partition("\t")
    sent = json.loads(body)
    assert vm_id == vm["id"]
    assert sent["description"] == REPLACE_DESCRIPTION
    assert set(sent) == {f for f in WRITABLE_FIELDS if f in vm}
    assert "revision" not in sent and "future_field" not in sent


def test_every_goal_names_a_scenario() -> None:
    assert {s for s, _, _ in GOALS} <= set(SCENARIOS)


def test_plain_vm_keeps_a_field_the_service_gained_optional() -> None:
    class Gained(msgspec.Struct, kw_only=True):
        id: str
        name: str
        project: str
        created_at: str

    shape = plain(Gained)
    written_by_a_floor = msgspec.convert(
        {"id": "a", "name": "b", "created_at": "2026-01-01T00:00:00Z"}, shape
    )
    assert msgspec.json.decode(msgspec.json.encode(written_by_a_floor)) == {
        "id": "a", "name": "b", "created_at": "2026-01-01T00:00:00Z"
    }  # fmt: skip
    with_project = {"id": "a", "name": "b", "project": "p", "created_at": "2026-01-01T00:00:00Z"}
    assert msgspec.json.decode(msgspec.json.encode(msgspec.convert(with_project, shape))) == (
        with_project
    )


def test_a_goal_is_not_judged_when_either_side_answered_errors() -> None:
    clean = [run("patch", "service", 400), run("patch", "floor-txn", 300)]
    failing = [clean[0], {**clean[1], "non_2xx": 900}]
    assert ratios(clean, summarize(clean))[0]["ok"] is True
    update = ratios(failing, summarize(failing))[0]
    assert update["ok"] is None and update["errors"] == 900
    assert "not judged" in goal_line(update)


def test_floor_merges_the_bench_bodies_whatever_fields_the_service_gains(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MONGODB_URL", "mongodb://127.0.0.1:1/?connect=false")
    monkeypatch.setenv("MONGODB_DB", "bench")
    floor = importlib.import_module("bench.floor")
    current = {"name": "a", "project": "default", "status": "running", "os": "x",
               "cpu_cores": 1, "memory_mib": 128, "storage_gib": 1, "ip_address": None,
               "labels": {"env": "b"}, "description": "old"}  # fmt: skip
    patched = floor.merged(current, floor.decode_patch(b'{"labels":{"bench":"7"}}'))
    assert patched == {"labels": {"env": "b", "bench": "7"}}
    _, _, body = replace_line({"id": "665f1c2e8b3e4a0012345678", **current}).partition("\t")
    assert floor.merged(current, floor.decode_replace(body.encode())) == {
        "description": REPLACE_DESCRIPTION
    }
