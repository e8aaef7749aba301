"""uvicorn's httptools protocol with bounds on a request's head, slow clients and connections."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import httptools
import msgspec
from prometheus_client import Gauge
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from service.domain.errors import ValidationFailed

CONNECTION = "vm_inventory.connection"  # scope["extensions"][CONNECTION]: the request's protocol
# Past MAX_CONNECTIONS, this many more connections are kept for health probes only (anything
# else gets 503), each with a short head deadline: an orchestrator's probe is always answered.
PROBE_RESERVE = 8
PROBE_PATHS = frozenset({b"/health/live", b"/health/ready"})
PROBE_HEAD_TIMEOUT_S = 2.0
SLACK_BYTES = 16 * 1024  # request line, path and what the app's own 414/431 checks need to see
# httptools.parse_url keeps offsets in 16 bits: a longer request target is an "invalid request".
PARSE_URL_LIMIT = 65_535

_REASONS = {
    400: b"Bad Request",
    408: b"Request Timeout",
    414: b"URI Too Long",
    431: b"Request Header Fields Too Large",
    503: b"Service Unavailable",
}
# The same type and title as the app's own problems for these statuses (see service.http.problems).
_KINDS = {
    400: (ValidationFailed.slug, ValidationFailed.title),  # one problem type for every 400
    408: ("request-timeout", "Request timeout"),
    414: ("query-string-too-long", "Query string too long"),
    431: ("request-headers-too-large", "Request headers too large"),
    503: ("too-many-connections", "Too many connections"),
}


def problem_response(status: int, detail: str) -> bytes:
    """A complete problem+json HTTP/1.1 response that closes the connection."""
    kind, title = _KINDS[status]
    body = msgspec.json.encode(
        {
            "type": f"https://vm-inventory.dev/problems/{kind}",
            "title": title,
            "status": status,
            "detail": detail,
        }
    )
    retry = b"retry-after: 1\r\n" if status == 503 else b""
    return (
        b"HTTP/1.1 %d %s\r\ncontent-type: application/problem+json\r\n" % (status, _REASONS[status])
        + retry
        + b"content-length: %d\r\nconnection: close\r\n\r\n" % len(body)
        + body
    )


OPEN_CONNECTIONS = Gauge(
    "vm_inventory_connections",
    "open HTTP connections of this process (MAX_CONNECTIONS caps them)",
    multiprocess_mode="livesum",
)


class _Refused(Exception):
    """Raised from a parser callback to refuse the request with `status`."""

    def __init__(self, status: int, detail: str) -> None:
        """Remember the answer."""
        super().__init__(detail)
        self.status = status
        self.detail = detail


@dataclass(frozen=True)
class Limits:
    """What a connection may send, and how slowly (the server settings)."""

    head_bytes: int = 64 * 1024
    url_bytes: int = 20 * 1024
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    max_connections: int = 1000


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's protocol, bounding what httptools would buffer or wait for without end.

    - A request target longer than `url_bytes` gets 414 and a head longer than `head_bytes`
      431 (problem+json, then close): httptools buffers a head without bound, and the app's own
      checks only run once the head is complete.
    - A head must arrive within `header_timeout` of its first byte (or of the connection's
      opening) and a body within `body_timeout` of its head; else 408 (or a silent close for a
      connection that sent nothing), so slow clients cannot hold connections or requests open.
    - Past `max_connections` open connections, a new one gets 503 and is closed, unless it is
      one of PROBE_RESERVE more that asks for a health probe (answered, then closed).
    - `abort` and `buffered_bytes` (the app finds them in scope["extensions"][CONNECTION]) let
      a stream drop a client that takes nothing, with what is buffered for it.
    The idle time between requests on a kept-alive connection is uvicorn's `timeout_keep_alive`.
    """

    limits = Limits()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Refuse the connection past the cap; else start timing the first request's head."""
        self._head_bytes = 0
        self._in_head = True
        self._timer: asyncio.TimerHandle | None = None
        super().connection_made(transport)
        OPEN_CONNECTIONS.set(len(self.connections))
        self._probe_only = len(self.connections) > self.limits.max_connections
        if len(self.connections) > self.limits.max_connections + PROBE_RESERVE:
            self._refuse(503, f"more than {self.limits.max_connections} open connections")
            return
        self._arm(PROBE_HEAD_TIMEOUT_S if self._probe_only else self.limits.header_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        """Stop the timer with the connection."""
        self._disarm()
        super().connection_lost(exc)
        OPEN_CONNECTIONS.set(len(self.connections))

    def data_received(self, data: bytes) -> None:
        """Parse `data`; refuse a head that passes its bounds (414, 431) or does not parse (400)."""
        self._unset_keepalive_if_required()
        if self._in_head:
            if self._timer is None:  # the first byte of a request on a kept-alive connection
                self._arm(self.limits.header_timeout)
            self._head_bytes += len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        except httptools.HttpParserError as exc:
            refused = exc.__context__
            if isinstance(refused, _Refused):
                self._refuse(refused.status, refused.detail)
            else:
                self.logger.warning("Invalid HTTP request received.")
                self._refuse(400, "the request is not valid HTTP/1.1")
            return
        # Past the limit, this read may still end the head and carry the start of the body (a
        # large upload sends both at once): it was parsed; refuse only a head that goes on.
        if self._in_head and self._head_bytes > self.limits.head_bytes:
            self._refuse(431, f"the request line and headers exceed {self.limits.head_bytes} bytes")

    def on_url(self, url: bytes) -> None:
        """Collect the request target; refuse it once it passes the bound."""
        super().on_url(url)
        if len(self.url) > self.limits.url_bytes:
            raise _Refused(414, f"the request target exceeds {self.limits.url_bytes} bytes")

    def on_headers_complete(self) -> None:
        """The head is complete: its body must now arrive in time (its size is the app's, 413);
        past the connection cap, only a health probe goes on."""
        if self._probe_only and httptools.parse_url(self.url).path not in PROBE_PATHS:
            raise _Refused(503, f"more than {self.limits.max_connections} open connections")
        self._in_head = False
        self._arm(self.limits.body_timeout)
        super().on_headers_complete()
        self.scope.setdefault("extensions", {})[CONNECTION] = {"protocol": self}
        if self._probe_only and self.cycle is not None:
            self.cycle.keep_alive = False

    def abort(self) -> None:
        """Close the connection at once, dropping what is still buffered for the client."""
        self.transport.abort()

    def buffered_bytes(self) -> int:
        """Bytes written to the connection that the kernel has not taken yet."""
        return int(self.transport.get_write_buffer_size())

    def on_message_complete(self) -> None:
        """The request is complete; the next one on this connection starts a new head."""
        self._disarm()
        super().on_message_complete()
        self._in_head = True
        self._head_bytes = 0

    def _arm(self, seconds: float) -> None:
        self._disarm()
        self._timer = self.loop.call_later(seconds, self._timed_out)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _timed_out(self) -> None:
        self._timer = None
        if self.transport.is_closing():
            return
        if self._in_head and self._head_bytes == 0:
            self.transport.close()  # opened and never used: nothing to answer
        elif self._in_head and self.cycle is not None and not self.cycle.response_complete:
            self._arm(self.limits.header_timeout)  # a pipelined head waits for the response
        elif self._in_head:
            self._refuse(408, f"the request head took over {self.limits.header_timeout} s")
        elif self.cycle is not None and self.cycle.response_started:
            self.transport.close()
        else:
            self._refuse(408, f"the request body took over {self.limits.body_timeout} s")

    def _refuse(self, status: int, detail: str) -> None:
        self._disarm()
        if not self.transport.is_closing():
            self.transport.write(problem_response(status, detail))
            self.transport.close()


async def taken_within(
    chunks: AsyncIterator[bytes], seconds: float, connection: BoundedHttpToolsProtocol | None
) -> AsyncGenerator[bytes]:
    """`chunks`, each of which the client must take within `seconds`, else its connection is
    aborted: a client that stops reading does not hold a stream's slot and snapshot forever."""
    loop = asyncio.get_running_loop()
    deadline: asyncio.TimerHandle | None = None
    try:
        async for chunk in chunks:
            if connection is not None:
                deadline = loop.call_later(seconds, connection.abort)
            yield chunk  # returns once the server took it: the client is reading
            if deadline is not None:
                deadline.cancel()
    finally:
        if deadline is not None:
            deadline.cancel()
        aclose = getattr(chunks, "aclose", None)
        if aclose is not None:
            await aclose()


def connection_of(scope: Mapping[str, Any]) -> BoundedHttpToolsProtocol | None:
    """The connection of the request of `scope`, when this protocol serves it."""
    found = ((scope.get("extensions") or {}).get(CONNECTION) or {}).get("protocol")
    return found if isinstance(found, BoundedHttpToolsProtocol) else None


def bounded_protocol(
    max_header_bytes: int,
    max_query_bytes: int,
    header_timeout: float = 10.0,
    body_timeout: float = 30.0,
    max_connections: int = 1000,
) -> type[Any]:
    """The protocol class for uvicorn's `http` option, sized after the app's own limits."""
    limits = Limits(
        head_bytes=max_header_bytes + max_query_bytes + SLACK_BYTES,
        url_bytes=min(max_query_bytes + SLACK_BYTES, PARSE_URL_LIMIT),
        header_timeout=header_timeout,
        body_timeout=body_timeout,
        max_connections=max_connections,
    )
    return type("HttpToolsProtocol", (BoundedHttpToolsProtocol,), {"limits": limits})
