"""Request context: X-Request-ID, query and header limits, the rendering of errors raised before
the route, one JSON access line per request (written as service.http.logs formats it); used by
service.http.middleware.pipeline."""

from __future__ import annotations

import logging
import random
import re
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException
from litestar.types import Receive, Scope, Send

from service.domain.errors import DomainError
from service.http.logs import access_log, write_access_line
from service.http.problems import domain_problem, http_problem

# nginx's "client closed request": the client went away before any response was sent, so neither
# the access log nor the metrics count it as the 500 Litestar renders for the broken body read.
CLIENT_CLOSED = 499
_REQUEST_ID_RE = re.compile(r"[A-Za-z0-9._:-]{1,128}")
PUBLIC_PATHS = ("^/health/", "^/schema")


def request_id_of(scope: Scope) -> str:
    """The caller's X-Request-ID when it is a sane one, else a new id."""
    for key, value in scope["headers"]:
        if key == b"x-request-id":
            text = bytes(value).decode("latin-1")
            if _REQUEST_ID_RE.fullmatch(text):
                return text
            break
    # 32 hex digits as uuid4().hex gave, without a system call: an id, not a secret.
    return f"{random.getrandbits(128):032x}"


def check_limits(scope: Scope, max_query_bytes: int, max_header_bytes: int) -> None:
    """414 for a query string longer than `max_query_bytes`, 431 for larger header blocks."""
    if len(scope["query_string"]) > max_query_bytes:
        raise HTTPException(
            status_code=414, detail=f"query string longer than {max_query_bytes} bytes"
        )
    size = sum(len(k) + len(v) for k, v in scope["headers"])
    if size > max_header_bytes:
        raise HTTPException(
            status_code=431, detail=f"request headers larger than {max_header_bytes} bytes"
        )


async def send_problem(
    exc: HTTPException | DomainError, scope: Scope, receive: Receive, send: Send
) -> None:
    """Answer `exc` as problem+json (an error raised before the route: limits, key, budget)."""
    problem = http_problem(exc) if isinstance(exc, HTTPException) else domain_problem(exc)
    request: Request[Any, Any, Any] = Request(scope, receive)
    response: Response[Any] = problem.to_response(request)
    await response.to_asgi_response(None, request)(scope, receive, send)


def log_access(scope: Scope, status: int, duration_s: float, request_id: str, closed: bool) -> None:
    """The request's access line, when service.access logs INFO."""
    if not access_log.isEnabledFor(logging.INFO):
        return
    fields = {
        "method": scope.get("method"),
        "route": scope.get("path_template") or scope["path"],
        "status": status,
        "duration_ms": round(duration_s * 1000, 3),
        "request_id": request_id,
        "key": getattr(scope.get("user"), "name", None),
    }
    if closed:
        fields["client_closed"] = True
    if trace_id := scope.get("trace_id"):  # tracing on: the HTTP span's
        fields["trace_id"] = trace_id
    if not write_access_line(fields):
        access_log.info("request", extra={"fields": fields})


def with_full_allow(scope: Scope, headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
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
