"""One change stream per process, fanned out to every watcher through bounded queues.

No MongoDB here: the hub reads any ChangeSource (service.storage.watch has MongoDB's).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, Awaitable
from typing import Protocol

from service.domain.errors import DatabaseUnavailable, WatchTokenExpired
from service.domain.slots import Slots
from service.domain.watch.model import (
    Change,
    Doc,
    check_not_after,
    classify,
    is_later,
    seen_by,
    token_time,
)
from service.domain.watch.watcher import SHUTTING_DOWN, Ended, Item, Sent, Watcher

log = logging.getLogger("service.watch")
REOPEN_DELAYS = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0)
IDLE_CLOSE_S = 30.0
"""A hub without watchers closes its stream after this long and opens it again, from then on,
for the next watcher: a process nobody watches does not read every write's change (~50-80 us
of CPU per write, scripts/bench)."""


class ChangeCursor(Protocol):
    """An open change stream."""

    @property
    def token(self) -> str:
        """The resume point after everything returned so far (advances while idle too)."""

    async def next(self) -> Change | None:
        """The next change, or None when none came within the cursor's wait."""

    async def close(self) -> None:
        """Release the cursor."""


class ChangeSource(Protocol):
    """Where changes come from: opens a stream after a resume point (None: from now)."""

    async def open(
        self, after: str | None, quick: bool = False, field: str = "resume_token"
    ) -> ChangeCursor:
        """Open after `after`; WatchTokenExpired when history no longer reaches it, a 400 naming
        `field` (where the client sent `after`) when MongoDB refuses it."""

    async def now(self) -> str:
        """A resume point after every change committed so far."""


class Hub:
    """Reads the one change stream of the process and offers each change to every watcher.

    Watchers are grouped by filter: a change is classified once per distinct filter, and the
    outcome is queued to each watcher of that filter (1,000 watchers of 10 filters: 10 predicate
    evaluations per change, not 1,000).
    """

    def __init__(
        self,
        source: ChangeSource,
        slots: Slots,
        queue_events: int,
        resume_window_s: float = float("inf"),
        idle_close_s: float = IDLE_CLOSE_S,
    ) -> None:
        """Fan out `source` to watchers holding `slots` (per key and process), each queueing
        `queue_events`; a catch-up may start at most `resume_window_s` before the hub; the
        stream closes after `idle_close_s` without a watcher."""
        self.source = source
        self.slots = slots
        self.queue_events = queue_events
        self.resume_window_s = resume_window_s
        self.watchers: set[Watcher] = set()
        self.groups: dict[str, tuple[Doc, set[Watcher]]] = {}  # filter key -> query, watchers
        self.pending: set[Watcher] = set()  # reserved, still catching up
        self.position: str | None = None
        self.opened = asyncio.Event()
        self.closing = False
        self.idle_close_s = idle_close_s
        self._wanted = asyncio.Event()  # clear while closed for want of watchers
        self._wanted.set()
        self._task: asyncio.Task[None] | None = None

    def start(self, ready: Awaitable[None] | None = None) -> None:
        """Start reading in the background, once `ready` is done (retried until MongoDB answers)."""

        async def run() -> None:
            if ready is not None:
                await ready
            await self._run()

        self._task = asyncio.create_task(run(), name="watch-hub")

    async def close(self) -> None:
        """End every watch (the clients reconnect elsewhere) and stop reading."""
        self.closing = True
        self.end_all(SHUTTING_DOWN)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def end_all(self, why: Ended) -> None:
        """End every current watch with `why`."""
        for watcher in [*self.watchers, *self.pending]:
            watcher.end(why)

    def reserve(self, query: Doc, key: str = "") -> Watcher:
        """A watcher for `query` holding one of the slots of `key` (TooManyStreams past them)."""
        if self.closing:
            raise DatabaseUnavailable("the server is shutting down; retry shortly")
        watcher = Watcher(query, self.queue_events)
        watcher.slot = self.slots.acquire(key)
        self.pending.add(watcher)
        self._wanted.set()  # (re)open the stream if it closed for want of watchers
        return watcher

    async def open_after(self, token: str, field: str = "resume_token") -> ChangeCursor:
        """A private cursor after `token` for a catch-up: a 400 naming `field` (where the client
        sent it) for a token after every committed change, WatchTokenExpired (410) when `token`
        is more than the resume window older than the hub's position (the client lists again)."""
        now = await self.source.now()
        check_not_after(token, now, field)
        position = self.position or now
        behind_s = token_time(position)[0] - token_time(token)[0]
        if behind_s > self.resume_window_s:
            raise WatchTokenExpired(
                f"the resume point is {behind_s} s old, more than the {self.resume_window_s:g} s "
                "a watch may resume from; list again, then watch from the list's watch_token"
            )
        return await self.source.open(token, quick=True, field=field)

    def attach(self, watcher: Watcher, not_before: str | None = None) -> str:
        """Offer `watcher` every change after the hub's position, or after `not_before` when the
        hub has not read that far yet; returns the point the watcher starts after."""
        assert self.position is not None
        start = self.position
        if not_before is not None and is_later(not_before, start):
            # The hub lags behind what MongoDB committed before the request: the watcher's floor
            # drops those changes when the hub reaches them.
            start = watcher.floor = not_before
        self.pending.discard(watcher)
        self.watchers.add(watcher)
        self.groups.setdefault(watcher.key, (watcher.query, set()))[1].add(watcher)
        return start

    def release(self, watcher: Watcher) -> None:
        """Forget `watcher` (its client is gone) and free its slot; again does nothing."""
        if watcher.slot is not None:
            watcher.slot.release()
        self.pending.discard(watcher)
        if watcher in self.watchers:
            self.watchers.remove(watcher)
            members = self.groups[watcher.key][1]
            members.remove(watcher)
            if not members:
                del self.groups[watcher.key]

    async def wait_open(self, seconds: float) -> None:
        """Wait until the stream is open (it starts with the process), else 503."""
        try:
            await asyncio.wait_for(self.opened.wait(), seconds)
        except TimeoutError:
            raise DatabaseUnavailable("the change stream is not open yet; retry shortly") from None

    async def _run(self) -> None:
        failures = 0
        loop = asyncio.get_running_loop()
        while not self.closing:
            await self._wanted.wait()
            try:
                cursor = await self.source.open(self.position)
            except WatchTokenExpired:
                self._lost_history()
                continue
            except Exception as exc:
                failures = await self._pause(failures, exc)
                continue
            try:
                self.position = cursor.token
                self.opened.set()
                watched_at = loop.time()
                while not self.closing:
                    change = await cursor.next()
                    failures = 0
                    if self.watchers or self.pending:
                        watched_at = loop.time()
                    elif loop.time() - watched_at >= self.idle_close_s:
                        self._close_unwatched()
                        break
                    if change is None:
                        self.position = cursor.token
                        continue
                    self.position = change.token
                    self.fan_out(change)
            except WatchTokenExpired:
                self._lost_history()
            except Exception as exc:
                failures = await self._pause(failures, exc)
            finally:
                with contextlib.suppress(Exception):
                    await cursor.close()

    def fan_out(self, change: Change) -> None:
        """Queue `change` to every attached watcher it concerns (classified once per filter)."""
        for query, members in self.groups.values():
            outcome = classify(query, change)
            if outcome is None:
                continue
            sent = Sent(outcome[0], outcome[1], change.token)
            for watcher in members:
                watcher.put(change, sent)

    def _close_unwatched(self) -> None:
        """Nobody watches: stop reading until a watcher is reserved (then from that moment on:
        a new watcher starts after its request, a catch-up reads up to the hub itself)."""
        self._wanted.clear()
        self.opened.clear()  # new watches wait until it is open again
        self.position = None

    def _lost_history(self) -> None:
        """The stream cannot resume: every watcher must list again; restart from now."""
        log.error("change stream history lost; ending every watch with 410")
        self.end_all(Ended(410, "expired", "the change history is gone; list again, then watch"))
        self.position = None
        self.opened.clear()  # new watches wait until the stream is open again (else 503)

    async def _pause(self, failures: int, exc: Exception) -> int:
        delay = REOPEN_DELAYS[min(failures, len(REOPEN_DELAYS) - 1)]
        log.warning("change stream failed (%r); reopening in %ss", exc, delay)
        await asyncio.sleep(delay)
        return failures + 1


async def catch_up(
    hub: Hub, watcher: Watcher, cursor: ChangeCursor, start: str
) -> AsyncGenerator[Item]:
    """Changes after `start` from a private cursor until it reaches the hub, then attach.

    The watcher attaches at a moment when the hub's position is at or before what the cursor has
    covered; its floor then drops the hub's changes the cursor already delivered: no gap and no
    duplicate at the seam.
    """
    floor = start
    try:
        while True:
            if watcher.ended is not None:
                return
            change = await cursor.next()
            if change is None:
                if is_later(cursor.token, floor):
                    floor = cursor.token
                position = hub.position
                if position is not None and not is_later(position, floor):
                    break
                continue
            if seen_by(change, floor):
                continue
            floor = change.token
            outcome = classify(watcher.query, change)
            if outcome is not None:
                yield Sent(outcome[0], outcome[1], change.token)
    finally:
        await cursor.close()
    watcher.floor = floor
    hub.attach(watcher)
