"""One watcher: its filter, its bounded queue of what it is to receive, and how a watch ends."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from service.domain.slots import Slot
from service.domain.watch.model import Change, Doc, EventType, classify, seen_by


@dataclass(frozen=True)
class Sent:
    """A change one watcher is to receive."""

    type: EventType
    doc: Doc
    token: str


@dataclass(frozen=True)
class Ended:
    """The stream ends: why (HTTP status and reason) and what the client should do."""

    status: int
    reason: str
    detail: str


@dataclass(frozen=True)
class Idle:
    """Nothing has been queued for a while: the stream may send a heartbeat (not a change)."""


Item = Sent | Ended
IDLE = Idle()
SHUTTING_DOWN = Ended(503, "shutting-down", "the server is shutting down; resume from the last id")
TOO_SLOW = Ended(409, "too-slow", "the client did not keep up; resume from the last id")


def filter_key(query: Doc) -> str:
    """Equal for identical filters: their watchers share one evaluation of each change."""
    return repr(query)  # repr tells a datetime or bytes from a string, unlike JSON


class Watcher:
    """One client's filter and bounded queue; the hub offers it every change, in order."""

    def __init__(self, query: Doc, capacity: int) -> None:
        """Watch for changes matching `query`, holding at most `capacity` undelivered events."""
        self.query = query
        self.key = filter_key(query)
        self.floor: str | None = None
        # At most `capacity` events, plus the final Ended or an IDLE that holds no event's place.
        self.queue: asyncio.Queue[Item | Idle] = asyncio.Queue(capacity + 1)
        self.capacity = capacity
        self.ended: Ended | None = None
        self.idle_queued = False
        self.slot: Slot | None = None  # its place among the key's and the process's watchers
        self.on_end: Callable[[Ended], None] | None = None  # the stream's, told of the end

    def offer(self, change: Change) -> None:
        """Queue the change if it concerns this watcher; a full queue ends the watch."""
        outcome = classify(self.query, change)
        if outcome is not None:
            self.put(change, Sent(outcome[0], outcome[1], change.token))

    def put(self, change: Change, sent: Sent) -> None:
        """Queue `sent` (what `change` is to this watcher's filter) unless the client has it."""
        if self.ended is not None or seen_by(change, self.floor):
            return
        if self.queue.qsize() - self.idle_queued >= self.capacity:
            self.end(TOO_SLOW)
            return
        self.queue.put_nowait(sent)

    def nudge(self) -> None:
        """Wake a quiet stream with IDLE (its heartbeat timer's call); no-op if events wait."""
        if self.ended is None and self.queue.empty():
            self.idle_queued = True
            self.queue.put_nowait(IDLE)

    async def next(self) -> Item | Idle:
        """The next queued item, once there is one."""
        item = await self.queue.get()
        if item is IDLE:
            self.idle_queued = False
        return item

    def take(self) -> Item | Idle:
        """The next queued item (the queue is not empty)."""
        item = self.queue.get_nowait()
        if item is IDLE:
            self.idle_queued = False
        return item

    def end(self, why: Ended) -> None:
        """End the watch: undelivered events are dropped (the client resumes to get them)."""
        if self.ended is not None:
            return
        self.ended = why
        while not self.queue.empty():
            self.queue.get_nowait()
        self.idle_queued = False
        self.queue.put_nowait(why)
        if self.on_end is not None:
            self.on_end(why)
