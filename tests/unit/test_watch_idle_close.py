"""A hub nobody watches closes its change stream (a process then reads no write's change) and
opens it again for the next watcher, which misses no change made after its request."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from service.domain.listing import ListParams, build_filter
from service.domain.slots import Slots
from service.domain.watch.hub import Hub
from service.domain.watch.model import Change
from service.domain.watch.watcher import Sent, Watcher

IDLE_S = 0.05
WAIT_S = 10.0  # only a bound on a wait for a state, never a measured duration


class _Cursor:
    """A stream opened from now: it returns the changes committed after it opened."""

    def __init__(self, source: _Source, after: str | None) -> None:
        self.source, self.token, self.closed = source, source.clock_token(), False
        self.after, self.read = after, len(source.changes)

    async def next(self) -> Change | None:
        if self.read == len(self.source.changes):
            await asyncio.sleep(0.01)  # MongoDB's wait for a change
            self.token = self.source.clock_token()
            return None
        change = self.source.changes[self.read]
        self.read += 1
        self.token = change.token
        return change

    async def close(self) -> None:
        self.closed = True


class _Source:
    """Changes pushed by the test, stamped by a logical clock (resume tokens as MongoDB's)."""

    def __init__(self) -> None:
        self.changes: list[Change] = []
        self.cursors: list[_Cursor] = []
        self.clock = 1

    def clock_token(self) -> str:
        return f"t{self.clock}.0"

    def commit(self, revision: int) -> Change:
        self.clock += 1
        doc = {"id": "c" * 24, "status": "running", "revision": revision}
        change = Change(f"82{self.clock:08X}{1:08X}", (self.clock, 1), False, doc, doc)
        self.changes.append(change)
        return change

    async def open(self, after: str | None, quick: bool = False, field: str = "") -> _Cursor:
        cursor = _Cursor(self, after)
        self.cursors.append(cursor)
        return cursor

    async def now(self) -> str:
        return self.clock_token()


async def _until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(WAIT_S):
        while not condition():  # noqa: ASYNC110 - the hub task's state, polled
            await asyncio.sleep(0.005)


def _revisions(watcher: Watcher) -> list[int]:
    items = [watcher.queue.get_nowait() for _ in range(watcher.queue.qsize())]
    return [item.doc["revision"] for item in items if isinstance(item, Sent)]


async def test_an_unwatched_hub_closes_its_stream_and_opens_it_for_the_next_watcher() -> None:
    source = _Source()
    hub = Hub(source, Slots("watches", 10, 10), queue_events=100, idle_close_s=IDLE_S)
    hub.start()
    try:
        await hub.wait_open(WAIT_S)
        await _until(lambda: source.cursors[0].closed)  # nobody watched
        assert not hub.opened.is_set() and hub.position is None
        source.commit(1)  # nobody reads it: nobody watches
        watcher = hub.reserve(build_filter(ListParams()))
        await hub.wait_open(WAIT_S)
        assert len(source.cursors) == 2 and source.cursors[1].after is None  # from now on
        hub.attach(watcher, not_before=await source.now())
        source.commit(2)
        source.commit(3)
        await _until(lambda: watcher.queue.qsize() == 2)
        assert _revisions(watcher) == [2, 3]
    finally:
        await hub.close()


async def test_a_watched_hub_keeps_its_stream_and_closes_it_once_the_last_watcher_leaves() -> None:
    source = _Source()
    hub = Hub(source, Slots("watches", 10, 10), queue_events=100, idle_close_s=IDLE_S)
    hub.start()
    try:
        await hub.wait_open(WAIT_S)
        pending = hub.reserve(build_filter(ListParams()))  # a catch-up not yet attached
        watcher = hub.reserve(build_filter(ListParams()))
        hub.attach(watcher, not_before=await source.now())
        for revision in range(1, 21):  # many idle periods long
            source.commit(revision)
            await asyncio.sleep(IDLE_S / 2)
        await _until(lambda: watcher.queue.qsize() == 20)
        assert len(source.cursors) == 1 and not source.cursors[0].closed
        assert _revisions(watcher) == list(range(1, 21))
        hub.release(watcher)
        await asyncio.sleep(IDLE_S * 4)
        assert not source.cursors[0].closed  # the catch-up still wants it
        hub.release(pending)
        await _until(lambda: source.cursors[0].closed)
        assert not hub.opened.is_set()
    finally:
        await hub.close()
