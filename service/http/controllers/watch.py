"""GET /api/v1/vms/watch (WatchVMs): Server-Sent Events from the process's change-stream hub."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request
from litestar.background_tasks import BackgroundTask
from litestar.di import NamedDependency
from litestar.params import HeaderParameter, Parameter
from litestar.response import Stream

from service.config import Settings
from service.domain.errors import Forbidden, TooManyStreams, WatchTokenExpired
from service.domain.vms import within
from service.domain.watch.hub import (
    Hub,
)
from service.domain.watch.model import (
    check_token,
    watch_filter,
)
from service.http.controllers.filter_params import FILTERS, Filters
from service.http.head import get_and_head
from service.http.middleware.auth import access_of, caller_name
from service.http.problems import responses
from service.http.protocol import connection_of
from service.http.sse import (
    EVENT_STREAM,
    KEY_REVOKED,
    OPEN_TIMEOUT_S,
    SSE_HEADERS,
    Delivery,
    close_stream,
    sse,
)
from service.http.stream_keys import StreamKeys


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
        responses=responses(WatchTokenExpired, TooManyStreams, Forbidden),
        dependencies=FILTERS,
    )
    async def watch_vms(
        self,
        request: Request[Any, Any, Any],
        watch_hub: NamedDependency[Hub],
        settings: NamedDependency[Settings],
        stream_keys: NamedDependency[StreamKeys],
        filters: Filters,
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
        mongo_filter = watch_filter(within(filters, access_of(request.scope)))
        token, carrier = None, "resume_token"  # carrier: what the client sent the token in
        if last_event_id:
            token = check_token(last_event_id, carrier := "Last-Event-ID")
        elif resume_token is not None:
            token = check_token(resume_token, carrier)
        # Reserved first: a hub closed for want of watchers opens again for it.
        watcher = watch_hub.reserve(mongo_filter, caller_name(request.scope) or "")
        try:
            await watch_hub.wait_open(OPEN_TIMEOUT_S)
            cursor = None
            if token is None:
                # Not before the request: a change committed before it is not "later", even
                # when the shared stream has not read it yet.
                token = watch_hub.attach(watcher, not_before=await watch_hub.source.now())
            else:
                cursor = await watch_hub.open_after(token, carrier)
        except BaseException:
            watch_hub.release(watcher)
            raise
        if request.method == "HEAD":  # GET's status and headers, and no stream to hold open
            watch_hub.release(watcher)
            if cursor is not None:
                await cursor.close()
            return Stream(iter(()), media_type=EVENT_STREAM, headers=SSE_HEADERS)
        delivery = Delivery(
            settings.watch_heartbeat_seconds,
            settings.watch_send_timeout_seconds,
            settings.watch_buffer_bytes,
        )
        events = sse(watch_hub, watcher, cursor, token, delivery, connection_of(request.scope))
        events = stream_keys.guard(request, events, lambda: watcher.end(KEY_REVOKED))
        return Stream(
            events,
            media_type=EVENT_STREAM,
            headers=SSE_HEADERS,
            background=BackgroundTask(close_stream, events, watch_hub, watcher, cursor),
        )
