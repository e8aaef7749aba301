"""GET /api/v1/vms/watch (WatchVMs): Server-Sent Events from the process's change-stream hub."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request
from litestar.di import NamedDependency
from litestar.params import HeaderParameter, Parameter
from litestar.response import Stream
from prometheus_client import Counter, Gauge

from service.config import Settings
from service.errors import TooManyWatchers, WatchTokenExpired, responses
from service.head import get_and_head
from service.listing import MAX_RANGE, ListParams, check_times
from service.schemas import VM, VMStatus
from service.watch.hub import (
    SHUTTING_DOWN,
    ChangeCursor,
    Ended,
    Hub,
    Item,
    Sent,
    Watcher,
    catch_up,
)
from service.watch.model import (
    EventType,
    WatchBookmark,
    WatchError,
    WatchEvent,
    check_token,
    check_watch_params,
    is_later,
    watch_filter,
)

EVENT_STREAM = "text/event-stream"
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}  # no proxy buffering
BATCH_EVENTS = 64  # events queued for one watcher leave in one chunk, up to this many
OPEN_TIMEOUT_S = 2.0  # a watch waits this long for the hub's stream to open, then 503
WATCHERS = Gauge("vm_inventory_watchers", "WatchVMs clients connected to this process")
EVENTS_SENT = Counter("vm_inventory_watch_events_sent", "WatchVMs events sent", ["type"])
SLOW_DROPPED = Counter(
    "vm_inventory_watch_slow_consumers_dropped", "WatchVMs clients disconnected for falling behind"
)
_SENT = {t: EVENTS_SENT.labels(t.value) for t in EventType}
Min = Annotated[int | None, Parameter(description="at least", ge=0, le=MAX_RANGE)]
Max = Annotated[int | None, Parameter(description="at most", ge=0, le=MAX_RANGE)]


def frame(event: EventType, data: msgspec.Struct, token: str | None) -> bytes:
    """One SSE event: `id:` (the resume token), `event:` and one line of JSON `data:`."""
    _SENT[event].inc()
    return _frame_bytes(event, data, token)


def _frame_bytes(event: EventType, data: msgspec.Struct, token: str | None) -> bytes:
    head = f"id: {token}\n" if token else ""
    return f"{head}event: {event.value}\ndata: ".encode() + msgspec.json.encode(data) + b"\n\n"


_FRAMES: dict[tuple[str, EventType], bytes] = {}
_FRAMES_KEPT = 4096


def change_frame(item: Sent) -> bytes:
    """ADDED, MODIFIED or DELETED with the VM as GetVM returns it (encoded once per change and
    type, however many watchers receive it)."""
    key = (item.token, item.type)
    encoded = _FRAMES.get(key)
    if encoded is None:
        if len(_FRAMES) >= _FRAMES_KEPT:
            _FRAMES.clear()
        vm = msgspec.convert(item.doc, VM)
        data = WatchEvent(type=item.type, vm=vm, revision=vm.revision)
        encoded = _FRAMES[key] = _frame_bytes(item.type, data, item.token)
    _SENT[item.type].inc()
    return encoded


def bookmark_frame(token: str) -> bytes:
    """Nothing matching changed up to `token`."""
    bookmark = WatchBookmark(type=EventType.BOOKMARK, resume_token=token)
    return frame(EventType.BOOKMARK, bookmark, token)


async def sse(
    hub: Hub,
    watcher: Watcher,
    cursor: ChangeCursor | None,
    start: str,
    heartbeat_s: float,
) -> AsyncIterator[bytes]:
    """The event stream of one watcher: catch-up after its token, then the hub's changes."""
    WATCHERS.inc()
    last = start
    try:
        if cursor is None:
            yield bookmark_frame(start)  # a resume point before any change arrives
        else:
            try:
                async for item in catch_up(hub, watcher, cursor, start):
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
        while True:
            items: list[Item] = []
            if watcher.queue.empty():
                try:
                    items.append(await asyncio.wait_for(watcher.queue.get(), heartbeat_s))
                except TimeoutError:
                    # Queue empty and attached: every change up to the hub's position was handled.
                    position = hub.position
                    if watcher in hub.watchers and position and is_later(position, last):
                        last = position
                    yield b": heartbeat\n\n" + bookmark_frame(last)
                    continue
            while not watcher.queue.empty() and len(items) < BATCH_EVENTS:
                items.append(watcher.queue.get_nowait())
            chunk = bytearray()  # what is queued goes out in one write
            for item in items:
                if isinstance(item, Ended):
                    if item.reason == "too-slow":
                        SLOW_DROPPED.inc()
                    error = WatchError(
                        type=EventType.ERROR, status=item.status, reason=item.reason,
                        detail=item.detail, resume_token=last,
                    )  # fmt: skip
                    yield bytes(chunk) + frame(EventType.ERROR, error, None)
                    return
                chunk += change_frame(item)
                last = item.token
            yield bytes(chunk)
    finally:
        hub.release(watcher)
        WATCHERS.dec()


class WatchController(Controller):
    """GET /api/v1/vms/watch: live changes of the VMs matching ListVMs filters."""

    path = "/api/v1/vms/watch"
    tags = ["vms"]
    security = [{"ApiKey": []}]

    @get_and_head(
        "/",
        operation_id="WatchVMs",
        summary="Stream VM changes (Server-Sent Events): ADDED, MODIFIED, DELETED, BOOKMARK",
        media_type=EVENT_STREAM,
        response_description=(
            "Server-Sent Events. `event:` ADDED, MODIFIED, DELETED (`data:` WatchEvent JSON: type, "
            "vm as GetVM returns it, revision), BOOKMARK (`data:` type, resume_token) and a final "
            "ERROR (`data:` type, status, reason, detail, resume_token); `id:` the resume token; "
            "`:` comment lines are heartbeats"
        ),
        responses=responses(WatchTokenExpired, TooManyWatchers),
    )
    async def watch_vms(
        self,
        request: Request[Any, Any, Any],
        watch_hub: NamedDependency[Hub],
        settings: NamedDependency[Settings],
        status: Annotated[
            list[VMStatus] | None, Parameter(description="repeatable; any of these statuses")
        ] = None,
        os: Annotated[
            list[str] | None, Parameter(description="repeatable; any of these OS names, exactly")
        ] = None,
        name_prefix: Annotated[
            str | None,
            Parameter(description="names starting with this, ignoring case, taken literally"),
        ] = None,
        label: Annotated[
            list[str] | None,
            Parameter(description="repeatable, all must hold: `key=value`, `key` or `!key`"),
        ] = None,
        cpu_cores_min: Min = None,
        cpu_cores_max: Max = None,
        memory_mib_min: Min = None,
        memory_mib_max: Max = None,
        storage_gib_min: Min = None,
        storage_gib_max: Max = None,
        created_after: Annotated[
            datetime | None, Parameter(description="RFC 3339; created at or after (inclusive)")
        ] = None,
        created_before: Annotated[
            datetime | None, Parameter(description="RFC 3339; created before (exclusive)")
        ] = None,
        ip_address: Annotated[
            str | None, Parameter(description="this exact IPv4 or IPv6 address")
        ] = None,
        ip_in: Annotated[
            str | None, Parameter(description="addresses inside this CIDR, e.g. 10.0.0.0/24")
        ] = None,
        resume_token: Annotated[
            str | None,
            Parameter(description="an event's id, or ListVMs' watch_token: changes after it"),
        ] = None,
        last_event_id: Annotated[
            str | None,
            HeaderParameter(
                name="Last-Event-ID", description="as resume_token (it wins when both)"
            ),
        ] = None,
    ) -> Stream:
        """Every change after the request (or after the token) to VMs matching the filters."""
        query = request.query_params
        check_watch_params(list(query.keys()), {k: len(query.getall(k)) for k in query})
        check_times({k: query[k] for k in ("created_after", "created_before") if k in query})
        params = ListParams(
            status=status, os=os, name_prefix=name_prefix, label=label,
            cpu_cores_min=cpu_cores_min, cpu_cores_max=cpu_cores_max,
            memory_mib_min=memory_mib_min, memory_mib_max=memory_mib_max,
            storage_gib_min=storage_gib_min, storage_gib_max=storage_gib_max,
            created_after=created_after, created_before=created_before,
            ip_address=ip_address, ip_in=ip_in,
        )  # fmt: skip
        mongo_filter = watch_filter(params)
        token = None
        if last_event_id:
            token = check_token(last_event_id, "Last-Event-ID")
        elif resume_token is not None:
            token = check_token(resume_token, "resume_token")
        await watch_hub.wait_open(OPEN_TIMEOUT_S)
        watcher = watch_hub.reserve(mongo_filter)
        try:
            cursor = None
            if token is None:
                token = watch_hub.attach(watcher)
            else:
                cursor = await watch_hub.source.open(token, quick=True)
        except BaseException:
            watch_hub.release(watcher)
            raise
        if request.method == "HEAD":  # GET's status and headers, and no stream to hold open
            watch_hub.release(watcher)
            if cursor is not None:
                await cursor.close()
            return Stream(iter(()), media_type=EVENT_STREAM, headers=SSE_HEADERS)
        events = sse(watch_hub, watcher, cursor, token, settings.watch_heartbeat_seconds)
        return Stream(
            events,
            media_type=EVENT_STREAM,
            headers=SSE_HEADERS,
        )


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
