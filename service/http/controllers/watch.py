"""GET /api/v1/vms/watch (WatchVMs): Server-Sent Events from the process's change-stream hub."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from litestar import Controller, Request
from litestar.di import NamedDependency
from litestar.params import HeaderParameter, Parameter
from litestar.response import Stream

from service.config import Settings
from service.domain.errors import TooManyWatchers, WatchTokenExpired
from service.domain.listing import MAX_RANGE, ListParams, check_times
from service.domain.schemas import VMStatus
from service.domain.watch.hub import (
    Hub,
)
from service.domain.watch.model import (
    check_token,
    check_watch_params,
    watch_filter,
)
from service.http.head import get_and_head
from service.http.problems import responses
from service.http.sse import EVENT_STREAM, OPEN_TIMEOUT_S, SSE_HEADERS, sse

Min = Annotated[int | None, Parameter(description="at least", ge=0, le=MAX_RANGE)]
Max = Annotated[int | None, Parameter(description="at most", ge=0, le=MAX_RANGE)]


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
                # Not before the request: a change committed before it is not "later", even
                # when the shared stream has not read it yet.
                token = watch_hub.attach(watcher, not_before=await watch_hub.source.now())
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
