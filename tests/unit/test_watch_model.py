"""The watch's domain: classifying a change for one watcher, resume points, bounded queues."""

from __future__ import annotations

from typing import Any

from service.domain.watch.model import Change, EventType, check_token, classify, is_later, seen_by
from service.domain.watch.watcher import Ended, Sent, Watcher

RUNNING = {"status": {"$in": ["running"]}}


def _doc(status: str, revision: int) -> dict[str, Any]:
    return {"id": "a" * 24, "status": status, "revision": revision}


def _change(before: Any, after: Any, n: int = 1, inserted: bool = False) -> Change:
    return Change(f"82{n:016X}", (n, 0), inserted, before, after)


def test_a_change_is_what_it_is_to_the_filter() -> None:
    run, stop = _doc("running", 1), _doc("stopped", 2)
    assert classify(RUNNING, _change(None, run, inserted=True)) == (EventType.ADDED, run)
    assert classify(RUNNING, _change(stop, run)) == (EventType.ADDED, run)
    assert classify(RUNNING, _change(run, run)) == (EventType.MODIFIED, run)
    assert classify(RUNNING, _change(run, stop)) == (EventType.DELETED, run)  # last matching state
    assert classify(RUNNING, _change(run, None)) == (EventType.DELETED, run)
    assert classify(RUNNING, _change(stop, stop)) is None
    assert classify(RUNNING, _change(stop, None)) is None
    # an update without a pre-image (written before migration 0008) stays MODIFIED
    assert classify(RUNNING, _change(None, run)) == (EventType.MODIFIED, run)


def test_resume_points_order_tokens_and_cluster_times() -> None:
    early, late = "82" + "00000005" + "00000001" + "2B02", "82" + "00000005" + "00000002" + "2B02"
    assert is_later(late, early) and not is_later(early, late) and not is_later(early, early)
    assert is_later(early, "t5.1")  # an event at t comes after "before every event at t"
    assert not is_later("t5.1", early) and is_later("t5.2", early)
    change = Change(early, (5, 1), False, None, None)
    assert seen_by(change, early) and seen_by(change, late) and not seen_by(change, "t5.1")
    assert seen_by(change, "t5.2") and not seen_by(change, None)
    for token in (early, "t5.1"):
        assert check_token(token, "resume_token") == token


def test_a_watcher_too_far_behind_is_ended_not_grown() -> None:
    watcher = Watcher(RUNNING, capacity=3)
    for n in range(1, 10):
        watcher.offer(_change(None, _doc("running", n), n, inserted=True))
    assert watcher.queue.qsize() == 1
    ended = watcher.queue.get_nowait()
    assert isinstance(ended, Ended) and ended.reason == "too-slow"
    watcher.offer(_change(None, _doc("running", 11), 11, inserted=True))
    assert watcher.queue.empty()


def test_a_watcher_skips_what_its_client_already_has() -> None:
    watcher = Watcher(RUNNING, capacity=10)
    watcher.floor = f"82{2:016X}"
    for n in range(1, 5):
        watcher.offer(_change(None, _doc("running", n), n, inserted=True))
    sent = [watcher.queue.get_nowait() for _ in range(watcher.queue.qsize())]
    assert [s.doc["revision"] for s in sent if isinstance(s, Sent)] == [3, 4]
