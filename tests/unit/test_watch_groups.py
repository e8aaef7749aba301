"""The hub classifies a change once per distinct filter: each watcher still gets what it alone
would get (same events, in order, its own resume floor and its own bounded queue)."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

from service.domain.listing import ListParams, build_filter
from service.domain.schemas import VMStatus
from service.domain.slots import Slots
from service.domain.watch.hub import Hub
from service.domain.watch.model import Change, Doc, classify, seen_by
from service.domain.watch.watcher import Ended, Idle, Item, Sent, Watcher

STATUSES = ["running", "stopped", "provisioning"]
LABELS = ["g=0", "g=1", "env=prod", "team=a"]
FILTERS: list[Doc] = [
    build_filter(ListParams()),
    build_filter(ListParams(status=[VMStatus.RUNNING])),
    build_filter(ListParams(status=[VMStatus.RUNNING, VMStatus.STOPPED])),
    build_filter(ListParams(label=["g=0"])),
    build_filter(ListParams(label=["g=1", "env=prod"])),
    build_filter(ListParams(label=["!team"], cpu_cores_min=2)),
    build_filter(ListParams(created_after=datetime(2024, 1, 1, tzinfo=UTC))),
]


class _NoSource:
    async def open(self, after: str | None, quick: bool = False, field: str = "") -> Any:
        raise AssertionError("fan_out needs no stream")

    async def now(self) -> str:
        raise AssertionError("fan_out needs no start point")


def _doc(rng: random.Random, n: int) -> Doc:
    return {
        "id": "a" * 24, "revision": n, "status": rng.choice(STATUSES),
        "cpu_cores": rng.randint(1, 4),
        "label_terms": rng.sample(LABELS, rng.randint(0, 3)),
        "created_at": datetime(rng.choice([2023, 2025]), 1, 1, tzinfo=UTC),
    }  # fmt: skip


def _changes(seed: int, count: int) -> list[Change]:
    rng = random.Random(seed)
    changes, state = [], None
    for n in range(1, count + 1):
        after = None if rng.random() < 0.1 else _doc(rng, n)
        changes.append(Change(f"82{n:016X}", (n, 0), state is None, state, after))
        state = after
    return changes


def _alone(query: Doc, floor: str | None, changes: list[Change], capacity: int) -> list[Item]:
    """What one watcher with its own filter gets: the changes after its floor that concern it,
    or only the too-slow end once more than `capacity` are waiting."""
    items: list[Item] = []
    for change in changes:
        outcome = None if seen_by(change, floor) else classify(query, change)
        if outcome is None:
            continue
        if len(items) == capacity:
            return [Ended(409, "too-slow", "the client did not keep up; resume from the last id")]
        items.append(Sent(outcome[0], outcome[1], change.token))
    return items


def _drain(watcher: Watcher) -> list[Item | Idle]:
    return [watcher.queue.get_nowait() for _ in range(watcher.queue.qsize())]


def _watchers(rng: random.Random) -> list[tuple[Doc, str | None]]:
    """(filter, floor) of 40 watchers: many share a filter, some resumed from a later point."""
    floors = [None, None, *(f"82{n:016X}" for n in range(1, 40))]
    return [(rng.choice(FILTERS), rng.choice(floors)) for _ in range(40)]


def test_watchers_sharing_a_filter_get_what_each_would_get_alone() -> None:
    outcomes = set()
    for seed in range(20):
        rng = random.Random(seed)
        specs, changes = _watchers(rng), _changes(seed, 60)
        # Queues of 8 for 60 changes: wide filters overflow (too-slow), narrow ones do not.
        hub = Hub(_NoSource(), Slots("watches", 100, 100), queue_events=8)
        hub.position = "t1.0"
        grouped = []
        for query, floor in specs:
            shared = hub.reserve(dict(query))  # an equal filter, not the same object
            shared.floor = floor
            hub.attach(shared)
            grouped.append(shared)
        assert len(hub.groups) == len({repr(q) for q, _ in specs})
        for change in changes:
            hub.fan_out(change)
        for shared, (query, floor) in zip(grouped, specs, strict=True):
            expected = _alone(query, floor, changes, 8)
            assert _drain(shared) == expected
            outcomes.add(isinstance(expected[-1], Ended) if expected else False)
    assert outcomes == {True, False}  # watchers ended as too slow and others were compared


def test_a_slow_watcher_is_ended_alone_and_a_released_one_gets_nothing() -> None:
    query = build_filter(ListParams(status=[VMStatus.RUNNING]))
    hub = Hub(_NoSource(), Slots("watches", 10, 10), queue_events=3)
    hub.position = "t1.0"
    slow, fast, gone = (hub.reserve(query) for _ in range(3))
    for watcher in (slow, fast, gone):
        hub.attach(watcher)
    hub.release(gone)
    running = {"id": "b" * 24, "status": "running", "revision": 0}
    for n in range(1, 6):
        hub.fan_out(Change(f"82{n:016X}", (n, 0), n == 1, None, {**running, "revision": n}))
        if n < 5:
            assert len(_drain(fast)) == 1
    assert [type(item) for item in _drain(slow)] == [Ended]
    assert len(_drain(fast)) == 1 and fast.ended is None
    assert gone.queue.empty()
    hub.release(slow)
    hub.release(fast)
    assert hub.groups == {} and hub.watchers == set()
