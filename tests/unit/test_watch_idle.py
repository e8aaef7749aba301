"""A quiet watcher is woken for its heartbeat by IDLE, which never takes an event's place."""

from __future__ import annotations

from service.domain.watch.model import Change
from service.domain.watch.watcher import IDLE, Ended, Sent, Watcher

RUNNING = {"status": {"$in": ["running"]}}


def _change(n: int) -> Change:
    doc = {"id": "a" * 24, "status": "running", "revision": n}
    return Change(f"82{n:016X}", (n, 0), True, None, doc)


def test_idle_wakes_only_a_quiet_watcher() -> None:
    watcher = Watcher(RUNNING, capacity=3)
    watcher.nudge()
    watcher.nudge()  # one IDLE at most
    assert watcher.queue.qsize() == 1 and watcher.take() is IDLE
    watcher.offer(_change(1))
    watcher.nudge()  # events are queued: nothing to wake it for
    assert watcher.queue.qsize() == 1 and isinstance(watcher.take(), Sent)


def test_idle_does_not_count_against_the_queue_bound() -> None:
    watcher = Watcher(RUNNING, capacity=3)
    watcher.nudge()
    for n in range(1, 4):
        watcher.offer(_change(n))  # three events fit beside the IDLE
    assert watcher.ended is None
    taken = [watcher.take() for _ in range(4)]
    assert taken[0] is IDLE and all(isinstance(t, Sent) for t in taken[1:])
    for n in range(4, 8):
        watcher.offer(_change(n))
    assert isinstance(watcher.ended, Ended) and watcher.ended.reason == "too-slow"
    assert watcher.queue.qsize() == 1  # only the end: too slow is too slow with or without IDLE


def test_an_ended_watcher_is_not_woken() -> None:
    watcher = Watcher(RUNNING, capacity=3)
    watcher.nudge()
    watcher.end(Ended(503, "shutting-down", "bye"))
    watcher.take()
    watcher.nudge()
    assert watcher.queue.empty()
