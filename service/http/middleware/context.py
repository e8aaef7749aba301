"""Request context: X-Request-ID, query and header limits, one JSON access line per request
(written as service.http.logs formats it)."""

from __future__ import annotations

import logging
import random
import re
import time
from typing import Any

from litestar import Request, Response
from litestar.enums import ScopeType
from litestar.exceptions import HTTPException
from litestar.types import ASGIApp, Message, Receive, ReceiveMessage, Scope, Send

from service.domain.errors import DomainError
from service.http.logs import access_log, write_access_line
from service.http.problems import domain_problem, http_problem

# nginx's "client closed request": the client went away before any response was sent, so neither
# the access log nor the metrics count it as the 500 Litestar renders for the broken body read.
CLIENT_CLOSED = 499
_REQUEST_ID_RE = re.compile(r"[A-Za-z0-9._:-]{1,128}")
PUBLIC_PATHS = ("^/health/", "^/schema")


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


class RequestContextMiddleware:
    """Outermost of our middlewares: request id, size limits, error rendering, the access log.

    Errors raised by the middlewares inside it (401, 403, 429, 503 while checking a key) are
    rendered here as problem+json, so they carry X-Request-ID and reach the log and the metrics.
    """

    def __init__(self, app: ASGIApp, max_query_bytes: int, max_header_bytes: int) -> None:
        """Wrap `app`; longer query strings get 414, larger header blocks 431."""
        self.app = app
        self.max_query_bytes = max_query_bytes
        self.max_header_bytes = max_header_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one request."""
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        given = _header(scope, b"x-request-id")
        text = given.decode("latin-1") if given else ""
        # 32 hex digits as uuid4().hex gave, without a system call: an id, not a secret.
        request_id = text if _REQUEST_ID_RE.fullmatch(text) else f"{random.getrandbits(128):032x}"
        scope["request_id"] = request_id  # type: ignore[typeddict-unknown-key]
        echoed = (b"x-request-id", request_id.encode())
        status = 500
        started = closed = False

        async def receive_watched() -> ReceiveMessage:
            nonlocal closed
            message = await receive()
            if message["type"] == "http.disconnect" and not started:
                closed = True
            return message

        async def send_with_id(message: Message) -> None:
            nonlocal status, started
            if closed:
                return  # the client is gone: nothing reaches it
            if message["type"] == "http.response.start":
                status, started = message["status"], True
                headers = [*message.get("headers", ()), echoed]
                if scope["method"] == "OPTIONS":
                    headers = _with_full_allow(scope, headers)
                message["headers"] = headers
            await send(message)

        try:
            self._check_limits(scope)
            await self.app(scope, receive_watched, send_with_id)
        except (HTTPException, DomainError) as exc:
            if not closed:
                problem = (
                    http_problem(exc) if isinstance(exc, HTTPException) else domain_problem(exc)
                )
                request: Request[Any, Any, Any] = Request(scope, receive)
                response: Response[Any] = problem.to_response(request)
                await response.to_asgi_response(None, request)(scope, receive, send_with_id)
        finally:
            if closed:
                status = CLIENT_CLOSED
            if access_log.isEnabledFor(logging.INFO):
                user = scope.get("user")
                fields = {
                    "method": scope.get("method"),
                    "route": scope.get("path_template") or scope["path"],
                    "status": status,
                    "duration_ms": round((time.perf_counter() - start) * 1000, 3),
                    "request_id": request_id,
                    "key": getattr(user, "name", None),
                }
                if closed:
                    fields["client_closed"] = True
                if trace_id := scope.get("trace_id"):  # tracing on: the HTTP span's
                    fields["trace_id"] = trace_id
                if not write_access_line(fields):
                    access_log.info("request", extra={"fields": fields})

    def _check_limits(self, scope: Scope) -> None:
        if len(scope["query_string"]) > self.max_query_bytes:
            raise HTTPException(
                status_code=414, detail=f"query string longer than {self.max_query_bytes} bytes"
            )
        size = sum(len(k) + len(v) for k, v in scope["headers"])
        if size > self.max_header_bytes:
            raise HTTPException(
                status_code=431, detail=f"request headers larger than {self.max_header_bytes} bytes"
            )


def _with_full_allow(scope: Scope, headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """Litestar 2's automatic OPTIONS answer lists one handler's methods, not the path's."""
    template = scope.get("path_template")
    route = next(
        (r for r in scope["litestar_app"].routes if getattr(r, "path_format", None) == template),
        None,
    )
    if route is None or not any(k.lower() == b"allow" for k, _ in headers):
        return headers
    allow = ", ".join(sorted(route.methods)).encode()
    return [(k, allow if k.lower() == b"allow" else v) for k, v in headers]
