"""The change source's `now`: a resume point after every change committed before it was asked,
and before every change committed after it (where a fresh WatchVMs starts)."""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from service.domain.watch.model import Change, seen_by
from service.storage.watch import MongoChangeSource


async def test_now_lies_between_the_changes_before_and_after_it(
    clean: AsyncDatabase[dict[str, Any]],
) -> None:
    probe = clean.get_collection("watch_start_probe")  # not `vms`: no validator to satisfy
    source = MongoChangeSource(probe)
    cursor = await source.open(None)
    try:
        points: list[tuple[str, int]] = []  # (now token, how many writes came before it)
        writes = 0
        for burst in range(1, 8):  # bursts of 1..7 writes: several changes share a second
            for _ in range(burst):
                await probe.insert_one({"n": writes})
                writes += 1
            points.append((await source.now(), writes))
        changes: list[Change] = []
        while len(changes) < writes:
            change = await cursor.next()
            if change is not None:
                changes.append(change)
    finally:
        await cursor.close()
    assert [c.after["n"] for c in changes if c.after] == list(range(writes))
    for token, before in points:
        assert [seen_by(c, token) for c in changes] == [n < before for n in range(writes)]
