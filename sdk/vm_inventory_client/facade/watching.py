"""WatchVMs for programs: a reconnecting event iterator, and an informer (a live local cache)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import httpx

from ..models import VM, Problem
from .arguments import Filters
from .problems import WatchExpired, error_from, retry_after

CHANGES = frozenset({"ADDED", "MODIFIED", "DELETED"})
RECONNECT_DELAYS = (0.0, 0.2, 0.5, 1.0, 2.0, 5.0)


class ListedPage(Protocol):
    """A ListVMs page (the generated VMPage)."""

    @property
    def items(self) -> Sequence[VM]:
        """The page's VMs."""

    @property
    def next_page_token(self) -> str | None:
        """The next page's token; None on the last page."""

    @property
    def watch_token(self) -> str:
        """Where a watch misses nothing after this page's read."""


@dataclass(frozen=True)
class WatchEvent:
    """One change (ADDED, MODIFIED, DELETED with `vm` and `revision`) or a BOOKMARK."""

    type: str
    resume_token: str
    vm: VM | None = None
    revision: int | None = None


def watch_params(filters: Filters) -> httpx.QueryParams:
    """Filters as query parameters (repeated for lists, RFC 3339 for times)."""
    params: list[tuple[str, Any]] = []
    for name, value in filters.items():
        for item in value if isinstance(value, list | tuple) else [value]:
            text = item.isoformat() if isinstance(item, datetime) else getattr(item, "value", item)
            params.append((name, str(text)))
    return httpx.QueryParams(params)


async def _frames(response: httpx.Response) -> AsyncIterator[tuple[str, str | None, Any]]:
    """(event, id, data) of each SSE event; comments (heartbeats) are skipped."""
    fields: dict[str, str] = {}
    async for line in response.aiter_lines():
        if not line:
            if "data" in fields:
                yield fields.get("event", "message"), fields.get("id"), json.loads(fields["data"])
            fields = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")


async def watch_events(
    http: Callable[[], httpx.AsyncClient],
    filters: Filters,
    resume_token: str | None = None,
    *,
    bookmarks: bool = False,
    idle_timeout: float = 60.0,
) -> AsyncIterator[WatchEvent]:
    """Every change after `resume_token` (None: after the first connection), reconnecting with
    the last event's id whenever the connection drops or the server ends the stream.

    Raises WatchExpired (410) when the token is older than the server's history: list again.
    """
    last = resume_token
    failures = 0
    params = watch_params(filters)
    while True:
        headers = {"Last-Event-ID": last} if last else {}
        timeout = httpx.Timeout(10.0, read=idle_timeout)
        wait: float | None = None
        try:
            async with http().stream(
                "GET",
                "/api/v1/vms/watch",
                params=params,
                headers=headers,
                timeout=timeout,
            ) as response:
                if response.status_code != 200:
                    content = await response.aread()
                    error = error_from(response.status_code, content, response.headers, None)
                    if response.status_code not in (429, 503):
                        raise error
                    wait = retry_after(response.headers)
                else:
                    async for kind, token, data in _frames(response):
                        failures = 0
                        if kind == "ERROR":
                            if data.get("status") == 410:
                                raise WatchExpired(410, _problem(data), response.headers)
                            last = data.get("resume_token") or last
                            break  # the server ends the stream (too slow, shutting down)
                        if token:
                            last = token
                        if kind in CHANGES:
                            vm = VM.from_dict(data["vm"])
                            yield WatchEvent(kind, token or "", vm, int(data["revision"]))
                        elif kind == "BOOKMARK" and bookmarks:
                            yield WatchEvent(kind, token or "")
        except (httpx.TransportError, httpx.StreamError):
            pass
        delay = RECONNECT_DELAYS[min(failures, len(RECONNECT_DELAYS) - 1)]
        failures += 1
        await asyncio.sleep(wait if wait is not None else delay)


def _problem(data: dict[str, Any]) -> Problem:
    """The problem document of a 410 that arrived as an ERROR event of the stream."""
    return Problem(
        type_="https://vm-inventory.dev/problems/watch-token-expired",
        title="Resume token expired",
        status=410,
        detail=str(data.get("detail", "")),
    )


class Informer:
    """A local cache of the VMs matching some filters, kept current by WatchVMs.

    `await informer.start()` lists (every page), then watches from the first page's watch_token;
    `informer.vms` is readable at any time; `async for event in informer` yields each change
    applied (stale or duplicate revisions are dropped). After a 410 it lists again.
    """

    def __init__(
        self,
        fetch: Callable[[str | None], Awaitable[ListedPage]],
        http: Callable[[], httpx.AsyncClient],
        filters: Filters,
    ) -> None:
        """Describe the informer (`fetch(page_token)` gets one ListVMs page); nothing is fetched
        until start()."""
        self._fetch = fetch
        self._http = http
        self._filters = filters
        self.vms: dict[str, VM] = {}
        self._revisions: dict[str, int] = {}
        self._token: str | None = None

    async def start(self) -> None:
        """List every VM matching the filters; the watch starts from the first page's token."""
        self.vms.clear()
        self._revisions.clear()
        self._token = None
        page_token: str | None = None
        while True:
            page = await self._fetch(page_token)
            self._token = self._token or page.watch_token
            for vm in page.items:
                self.vms[vm.id] = vm
                self._revisions[vm.id] = vm.revision
            if not page.next_page_token:
                return
            page_token = page.next_page_token

    def apply(self, event: WatchEvent) -> bool:
        """Apply one change; False when the cache already holds that revision or a newer one."""
        assert event.vm is not None and event.revision is not None
        vm_id = event.vm.id
        if event.revision < self._revisions.get(vm_id, 0):
            return False
        if event.revision == self._revisions.get(vm_id) and (
            event.type != "DELETED" or vm_id not in self.vms
        ):
            return False
        self._revisions[vm_id] = event.revision
        if event.type == "DELETED":
            self.vms.pop(vm_id, None)
        else:
            self.vms[vm_id] = event.vm
        return True

    async def __aiter__(self) -> AsyncIterator[WatchEvent]:
        """Each change as it is applied to `vms` (start() first, or it starts itself)."""
        if self._token is None:
            await self.start()
        while True:
            try:
                async for event in watch_events(self._http, self._filters, self._token):
                    if self.apply(event):
                        yield event
            except WatchExpired:
                await self.start()
