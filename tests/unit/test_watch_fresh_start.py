"""A fresh watch starts no earlier than its request: changes MongoDB committed before it are not
sent, even when the shared change stream has not read them yet (it lags under load)."""

from __future__ import annotations

from typing import Any

from service.domain.listing import ListParams, build_filter
from service.domain.slots import Slots
from service.domain.watch.hub import Hub
from service.domain.watch.model import Change
from service.domain.watch.watcher import Sent, Watcher


class _NoSource:
    async def open(self, after: str | None, quick: bool = False, field: str = "") -> Any:
        raise AssertionError("attach and fan_out need no stream")

    async def now(self) -> str:
        raise AssertionError("the test passes the start point itself")


def _change(seconds: int, increment: int) -> Change:
    doc = {"id": "c" * 24, "status": "running", "revision": seconds * 10 + increment}
    token = f"82{seconds:08X}{increment:08X}"
    return Change(token, (seconds, increment), False, doc, doc)


CHANGES = [_change(s, i) for s in (2, 3, 5, 7) for i in (0, 1, 2)]


def _received(watcher: Watcher) -> list[tuple[int, int]]:
    items = [watcher.queue.get_nowait() for _ in range(watcher.queue.qsize())]
    sent = [item for item in items if isinstance(item, Sent)]
    assert len(sent) == len(items)
    return [(item.doc["revision"] // 10, item.doc["revision"] % 10) for item in sent]


def test_a_watch_attached_while_the_hub_lags_gets_only_changes_after_its_start() -> None:
    # Every start point between the hub's position and past the last change: the watcher gets
    # exactly the changes after it, none it was opened after.
    for seconds, increment in [(s, i) for s in (1, 2, 3, 4, 5, 7, 8) for i in (0, 1, 2, 3)]:
        hub = Hub(_NoSource(), Slots("watches", 10, 10), queue_events=100)
        hub.position = "t1.0"
        watcher = hub.reserve(build_filter(ListParams()))
        start = f"t{seconds}.{increment}"
        assert hub.attach(watcher, not_before=start) == start
        for change in CHANGES:
            hub.fan_out(change)
        expected = [c.cluster_time for c in CHANGES if c.cluster_time >= (seconds, increment)]
        assert _received(watcher) == expected


def test_a_start_point_the_hub_has_passed_changes_nothing() -> None:
    hub = Hub(_NoSource(), Slots("watches", 10, 10), queue_events=100)
    hub.position = CHANGES[4].token  # the hub has read up to (3, 1)
    watcher = hub.reserve(build_filter(ListParams()))
    assert hub.attach(watcher, not_before="t2.0") == CHANGES[4].token
    assert watcher.floor is None
    for change in CHANGES[5:]:
        hub.fan_out(change)
    assert _received(watcher) == [c.cluster_time for c in CHANGES[5:]]
