"""WatchVMs' Server-Sent Events: frames, one watcher's stream, metrics, shutdown on signal."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import msgspec
from prometheus_client import Counter, Gauge

from service.domain.errors import WatchTokenExpired
from service.domain.schemas import vm_from_fields
from service.domain.watch.hub import ChangeCursor, Hub, catch_up
from service.domain.watch.model import (
    EventType,
    WatchBookmark,
    WatchError,
    WatchEvent,
    is_later,
)
from service.domain.watch.watcher import SHUTTING_DOWN, TOO_SLOW, Ended, Idle, Sent, Watcher
from service.http.stream_keys import KEY_GONE

EVENT_STREAM = "text/event-stream"
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}  # no proxy buffering
BATCH_EVENTS = 64  # events queued for one watcher leave in one chunk, up to this many
CHUNK_BYTES = 32 * 1024  # ... and up to about this size (one event more at most)
OPEN_TIMEOUT_S = 2.0  # a watch waits this long for the hub's stream to open, then 503
WATCHERS = Gauge("vm_inventory_watchers", "WatchVMs clients connected", multiprocess_mode="livesum")
EVENTS_SENT = Counter("vm_inventory_watch_events_sent", "WatchVMs events sent", ["type"])
SLOW_DROPPED = Counter(
    "vm_inventory_watch_slow_consumers_dropped", "WatchVMs clients disconnected for falling behind"
)
_SENT = {t: EVENTS_SENT.labels(t.value) for t in EventType}
KEY_REVOKED = Ended(401, "unauthorized", f"{KEY_GONE}; watch again with a valid key")


def frame(event: EventType, data: msgspec.Struct, token: str | None) -> bytes:
    """One SSE event: `id:` (the resume token), `event:` and one line of JSON `data:`."""
    _SENT[event].inc()
    return _frame_bytes(event, data, token)


def _frame_bytes(event: EventType, data: msgspec.Struct, token: str | None) -> bytes:
    head = f"id: {token}\n" if token else ""
    return f"{head}event: {event.value}\ndata: ".encode() + msgspec.json.encode(data) + b"\n\n"


_FRAMES: dict[tuple[str, EventType], bytes] = {}
_FRAMES_KEPT = 4096
_FRAMES_KEPT_BYTES = 4 * 1024 * 1024  # the cache is per process: large VMs must not fill RAM
_frames_bytes = 0


def change_frame(item: Sent) -> bytes:
    """ADDED, MODIFIED or DELETED with the VM as GetVM returns it (encoded once per change and
    type, however many watchers receive it)."""
    global _frames_bytes
    key = (item.token, item.type)
    encoded = _FRAMES.get(key)
    if encoded is None:
        if len(_FRAMES) >= _FRAMES_KEPT or _frames_bytes >= _FRAMES_KEPT_BYTES:
            _FRAMES.clear()
            _frames_bytes = 0
        vm = vm_from_fields(dict(item.doc))  # item.doc is every watcher's
        data = WatchEvent(type=item.type, vm=vm, revision=vm.revision)
        encoded = _FRAMES[key] = _frame_bytes(item.type, data, item.token)
        _frames_bytes += len(encoded)
    _SENT[item.type].inc()
    return encoded


def bookmark_frame(token: str) -> bytes:
    """Nothing matching changed up to `token`."""
    bookmark = WatchBookmark(type=EventType.BOOKMARK, resume_token=token)
    return frame(EventType.BOOKMARK, bookmark, token)


class Connection(Protocol):
    """What a stream may do to its client's connection (service.http.protocol provides it)."""

    def abort(self) -> None:
        """Close at once, dropping what is buffered."""

    def buffered_bytes(self) -> int:
        """Bytes written that the kernel has not taken yet."""


@dataclass(frozen=True)
class Delivery:
    """How a watcher's client must take its events, else it is dropped (the settings)."""

    heartbeat_s: float
    send_timeout_s: float
    buffer_bytes: int


async def sse(
    hub: Hub,
    watcher: Watcher,
    cursor: ChangeCursor | None,
    start: str,
    delivery: Delivery,
    connection: Connection | None,
) -> AsyncIterator[bytes]:
    """The event stream of one watcher, dropped once its client takes nothing for the send
    timeout, or leaves more than the buffer bound untaken, or ends while a send waits.

    Dropped: the watcher leaves the hub (its slot and queue freed) and the connection is
    aborted with what is buffered for it (a client that reads nothing would never get an ERROR).
    """
    loop = asyncio.get_running_loop()
    deadline: asyncio.TimerHandle | None = None

    def drop() -> None:
        watcher.on_end = None
        watcher.end(TOO_SLOW)  # without a connection to abort, the client gets it if it reads
        hub.release(watcher)
        if connection is not None:
            SLOW_DROPPED.inc()
            connection.abort()

    def ended_while_sending(why: Ended) -> None:
        if deadline is not None:  # the client has not taken the last chunk: it cannot get why
            drop()

    watcher.on_end = ended_while_sending
    events = _events(hub, watcher, cursor, start, delivery.heartbeat_s)
    try:
        async with contextlib.aclosing(events):
            async for chunk in events:
                buffered = connection.buffered_bytes() if connection is not None else 0
                if buffered and buffered + len(chunk) > delivery.buffer_bytes:
                    drop()
                    return
                deadline = loop.call_later(delivery.send_timeout_s, drop)
                yield chunk  # returns once the server took it: the client is reading
                deadline.cancel()
                deadline = None
    finally:
        watcher.on_end = None
        if deadline is not None:
            deadline.cancel()


async def _events(
    hub: Hub,
    watcher: Watcher,
    cursor: ChangeCursor | None,
    start: str,
    heartbeat_s: float,
) -> AsyncGenerator[bytes]:
    """The event stream of one watcher: catch-up after its token, then the hub's changes."""
    WATCHERS.inc()
    last = start
    try:
        if cursor is None:
            yield bookmark_frame(start)  # a resume point before any change arrives
        else:
            try:
                # Closed with this stream, not when collected: the catch-up holds a cursor.
                async with contextlib.aclosing(catch_up(hub, watcher, cursor, start)) as caught:
                    async for item in caught:
                        if isinstance(item, Sent):
                            yield change_frame(item)
                            last = item.token
            except Exception as exc:  # MongoDB failed mid catch-up: the client resumes later
                status = 410 if isinstance(exc, WatchTokenExpired) else 503
                reason = "expired" if status == 410 else "unavailable"
                error = WatchError(
                    type=EventType.ERROR, status=status, reason=reason,
                    detail="the change history could not be read; resume shortly",
                    resume_token=last,
                )  # fmt: skip
                yield frame(EventType.ERROR, error, None)
                return
        loop = asyncio.get_running_loop()
        quiet_since = loop.time()
        timer: asyncio.TimerHandle | None = None

        def beat() -> None:  # one timer per quiet heartbeat period, not one around every wait
            nonlocal timer
            due = quiet_since + heartbeat_s
            if loop.time() < due:
                timer = loop.call_at(due, beat)
            else:
                timer = None
                watcher.nudge()

        timer = loop.call_at(quiet_since + heartbeat_s, beat)
        try:
            while True:
                items = [await watcher.next()]
                chunk = bytearray()  # what is queued goes out in one write, up to a bound
                for queued in items:
                    full = len(items) >= BATCH_EVENTS or len(chunk) >= CHUNK_BYTES
                    if not full and not watcher.queue.empty():
                        items.append(watcher.take())  # taken as the chunk grows
                    if isinstance(queued, Idle):
                        if len(items) > 1:  # events follow: they are the sign of life
                            continue
                        # Queue empty and attached: every change up to the hub's position was
                        # handled.
                        position = hub.position
                        if watcher in hub.watchers and position and is_later(position, last):
                            last = position
                        chunk += b": heartbeat\n\n" + bookmark_frame(last)
                    elif isinstance(queued, Ended):
                        if queued.reason == "too-slow":
                            SLOW_DROPPED.inc()
                        error = WatchError(
                            type=EventType.ERROR, status=queued.status, reason=queued.reason,
                            detail=queued.detail, resume_token=last,
                        )  # fmt: skip
                        yield bytes(chunk) + frame(EventType.ERROR, error, None)
                        return
                    else:
                        chunk += change_frame(queued)
                        last = queued.token
                yield bytes(chunk)
                quiet_since = loop.time()
                if timer is None:
                    timer = loop.call_at(quiet_since + heartbeat_s, beat)
        finally:
            if timer is not None:
                timer.cancel()
    finally:
        hub.release(watcher)
        WATCHERS.dec()


async def close_stream(
    events: AsyncGenerator[bytes], hub: Hub, watcher: Watcher, cursor: ChangeCursor | None
) -> None:
    """After the response, whole or cut off: close the stream, and release what it holds even
    when it never started (a client gone before its first chunk)."""
    await events.aclose()
    hub.release(watcher)
    if cursor is not None:
        await cursor.close()  # (closing twice is harmless)


@contextlib.asynccontextmanager
async def serving(hub: Hub, ready: Awaitable[None]) -> AsyncIterator[None]:
    """Run the hub (once `ready` is done) while the app serves; SIGTERM or SIGINT end every
    stream at once."""
    hub.start(ready)
    try:
        with end_streams_on_signal(hub):
            yield
    finally:
        await hub.close()


@contextlib.contextmanager
def end_streams_on_signal(hub: Hub) -> Iterator[None]:
    """On SIGTERM/SIGINT, end every watch at once, then let the server's own handler run.

    uvicorn waits for open responses before the lifespan ends; without this, open streams would
    hold a graceful shutdown until its timeout.
    """
    loop = asyncio.get_running_loop()
    previous: dict[int, Any] = {}

    def handler(signum: int, frame: Any) -> None:
        hub.closing = True
        loop.call_soon_threadsafe(hub.end_all, SHUTTING_DOWN)
        chained = previous.get(signum)
        if callable(chained):
            chained(signum, frame)
        elif chained == signal.SIG_DFL:  # no server handles it: the default action, as before
            signal.signal(signum, signal.SIG_DFL)
            signal.raise_signal(signum)

    try:
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous[int(sig)] = signal.signal(sig, handler)
    except ValueError:  # not the main thread (tests' in-thread servers): no signals to chain
        previous.clear()
    try:
        yield
    finally:
        for number, chained in previous.items():
            with contextlib.suppress(ValueError):
                signal.signal(number, chained)
