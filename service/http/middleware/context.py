"""Request context: X-Request-ID, query and header limits, one JSON access line per request."""

from __future__ import annotations

import logging
import random
import re
import sys
import time
from datetime import UTC, datetime
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.enums import ScopeType
from litestar.exceptions import HTTPException
from litestar.types import ASGIApp, Message, Receive, ReceiveMessage, Scope, Send

from service.domain.errors import DomainError
from service.http.problems import domain_problem, http_problem

access_log = logging.getLogger("service.access")

# nginx's "client closed request": the client went away before any response was sent, so neither
# the access log nor the metrics count it as the 500 Litestar renders for the broken body read.
CLIENT_CLOSED = 499
_REQUEST_ID_RE = re.compile(r"[A-Za-z0-9._:-]{1,128}")
PUBLIC_PATHS = ("^/health/", "^/schema")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and any `fields` passed as extra."""

    def format(self, record: logging.LogRecord) -> str:
        """Render `record` as a JSON line."""
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            out.update(fields)
        if record.exc_info:
            out["exc_info"] = self.formatException(record.exc_info)
        return msgspec.json.encode(out).decode()


def configure_logging(level: str) -> None:
    """Send every log record (ours, uvicorn's, litestar's) to stderr as JSON lines."""
    # The logging HOWTO's optimisations: no caller lookup (a stack walk per record), no thread,
    # process or task names; none of them is in our JSON lines.
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    global _json_handler
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    _json_handler = handler
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "litestar"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # Our access line is the only one: uvicorn's (which a `--workers` process would enable again,
    # its config being applied before the app is built) is dropped, and never formatted.
    logging.getLogger("uvicorn.access").handlers[:] = []
    logging.getLogger("uvicorn.access").propagate = False


_json_handler: logging.StreamHandler[Any] | None = None  # configure_logging's, once it ran
_second: tuple[int, str] = (-1, "")  # the last whole second and its ISO 8601 text


def _write_access_line(fields: dict[str, Any]) -> bool:
    """Write the access line JsonFormatter would, encoded once and without a LogRecord, when
    configure_logging's handler is still the only one (else False: log it the usual way)."""
    global _second
    handler = _json_handler
    if handler is None or logging.root.handlers != [handler] or access_log.handlers:
        return False
    now = time.time()
    whole = int(now)
    if whole != _second[0]:
        _second = (whole, datetime.fromtimestamp(whole, UTC).strftime("%Y-%m-%dT%H:%M:%S"))
    line = {
        "ts": f"{_second[1]}.{int((now - whole) * 1000):03d}+00:00",
        "level": "INFO",
        "logger": "service.access",
        "message": "request",
        **fields,
    }
    text = msgspec.json.encode(line).decode() + "\n"
    try:
        with handler.lock:  # type: ignore[union-attr]
            handler.stream.write(text)
            handler.stream.flush()
    except Exception:
        return False  # logging's path reports it (Handler.handleError), never the request
    return True


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
                if not _write_access_line(fields):
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
