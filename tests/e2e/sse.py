"""A small Server-Sent Events reader for the WatchVMs tests."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx

READ_TIMEOUT_S = 20.0  # a bound against hangs only: every awaited event comes well before it


@dataclass
class Event:
    """One SSE event (comments are counted on the stream, not returned)."""

    event: str
    data: dict[str, Any]
    id: str | None = None


@dataclass
class EventStream:
    """An open WatchVMs response, read event by event."""

    response: httpx.Response
    comments: list[str] = field(default_factory=list)
    _lines: AsyncIterator[str] | None = None

    async def next(self) -> Event | None:
        """The next event; None when the stream ended."""
        return await asyncio.wait_for(self._next(), READ_TIMEOUT_S)

    async def _next(self) -> Event | None:
        if self._lines is None:
            self._lines = self.response.aiter_lines()
        fields: dict[str, str] = {}
        async for line in self._lines:
            if line == "":
                if fields:
                    return Event(fields.get("event", "message"), json.loads(fields["data"]),
                                 fields.get("id"))  # fmt: skip
                continue
            if line.startswith(":"):
                self.comments.append(line)
                continue
            name, _, value = line.partition(": ")
            fields[name] = value
        return None

    async def changes(self, count: int) -> list[Event]:
        """The next `count` ADDED/MODIFIED/DELETED events (BOOKMARKs skipped)."""
        found: list[Event] = []
        while len(found) < count:
            event = await self.next()
            assert event is not None, f"stream ended after {found}"
            if event.event != "BOOKMARK":
                found.append(event)
        return found


class Watch:
    """`async with Watch(http, params) as stream`: a WatchVMs request held open."""

    def __init__(
        self, http: httpx.AsyncClient, params: Any = None, headers: dict[str, str] | None = None
    ) -> None:
        """Describe the request."""
        self.http, self.params, self.headers = http, params, headers or {}
        self._context: Any = None

    async def __aenter__(self) -> EventStream:
        """Send it; the answer's status and headers are there when this returns."""
        self._context = self.http.stream(
            "GET", "/api/v1/vms/watch", params=self.params, headers=self.headers
        )
        response = await self._context.__aenter__()
        return EventStream(response)

    async def __aexit__(self, *exc: object) -> None:
        """Close the connection."""
        await self._context.__aexit__(*exc)
