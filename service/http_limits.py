"""uvicorn's httptools protocol with a bound on the bytes a request may send before its body."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

SLACK_BYTES = 16 * 1024  # request line, path and what the app's own 414/431 checks need to see


def _problem(limit: int) -> bytes:
    body = msgspec.json.encode(
        {
            "type": "https://vm-inventory.dev/problems/request-headers-too-large",
            "title": "Request headers too large",
            "status": 431,
            "detail": f"the request line and headers exceed {limit} bytes",
        }
    )
    return (
        b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
        b"content-type: application/problem+json\r\n"
        b"content-length: " + str(len(body)).encode() + b"\r\nconnection: close\r\n\r\n" + body
    )


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """Stops reading a request whose line and headers pass `head_limit` bytes (431, then close).

    httptools buffers a request's head without bound; the app's own checks (414, 431 as
    problem+json) only run once the head is complete, so this bounds the memory before that.
    """

    head_limit = 64 * 1024

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Start counting the first request's head."""
        self._head_bytes = 0
        self._in_head = True
        super().connection_made(transport)

    def data_received(self, data: bytes) -> None:
        """Count head bytes; refuse the request once they pass the limit."""
        if not self._in_head:
            super().data_received(data)
            return
        self._head_bytes += len(data)
        # Past the limit, this read may still end the head and carry the start of the body (a
        # large upload sends both at once): parse it, and refuse only a head that goes on.
        super().data_received(data)
        if self._in_head and self._head_bytes > self.head_limit and not self.transport.is_closing():
            self.transport.write(_problem(self.head_limit))
            self.transport.close()

    def on_headers_complete(self) -> None:
        """The head is complete: the body is bounded by the app (413)."""
        self._in_head = False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        """The next request on this connection starts a new head."""
        super().on_message_complete()
        self._in_head = True
        self._head_bytes = 0


def bounded_protocol(max_header_bytes: int, max_query_bytes: int) -> type[Any]:
    """The protocol class for uvicorn's `http` option, sized after the app's own limits."""
    limit = max_header_bytes + max_query_bytes + SLACK_BYTES
    return type("HttpToolsProtocol", (BoundedHttpToolsProtocol,), {"head_limit": limit})
