"""RequestPipeline: every per-request concern of the app in one ASGI layer, in a fixed order."""

from __future__ import annotations

import time

from litestar.enums import ScopeType
from litestar.exceptions import HTTPException
from litestar.types import ASGIApp, Message, Receive, ReceiveMessage, Scope, Send

from service.domain.errors import DomainError
from service.http.middleware.auth import ApiKeyAuth
from service.http.middleware.context import (
    CLIENT_CLOSED,
    check_limits,
    log_access,
    request_id_of,
    send_problem,
    with_full_allow,
)
from service.http.middleware.metrics import RequestMetrics
from service.http.middleware.query_check import check_query_string
from service.http.middleware.rate_limit import KeyRateLimit


class RequestPipeline:
    """One pure-ASGI layer doing, outermost first, what seven middlewares did (each a coroutine,
    most with their own send and receive wrappers, per request):

    1. HEAD: the answer keeps GET's status and headers and sends no body, whoever wrote it.
    2. Metrics: count, latency and in-progress per method, route and status, including the
       statuses rendered here (401, 403, 429, 400, 414, 431) and 499 for a client gone.
    3. Request context: X-Request-ID, the query (414) and header (431) limits, the access line;
       errors raised by the steps below render here as problem+json carrying X-Request-ID.
    4. Authentication: `scope["user"]`, which the rate limit counts by and the access line names.
    5. The rate limit per key (refused requests are counted too, before the query check).
    6. The query check: a caller without a key gets 401, one over its budget 429, whatever
       its query string.
    7. In flight: /api/ requests are counted from before their route's readiness check (in its
       dependency) until their response is sent, as `migrate down` needs.
    """

    def __init__(
        self,
        app: ASGIApp,
        auth: ApiKeyAuth,
        rate_limit: KeyRateLimit,
        max_query_bytes: int,
        max_header_bytes: int,
    ) -> None:
        """Wrap `app`."""
        self.app = app
        self.auth = auth
        self.rate_limit = rate_limit
        self.max_query_bytes = max_query_bytes
        self.max_header_bytes = max_header_bytes
        self.metrics = RequestMetrics()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one request."""
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        method, path = scope["method"], scope["path"]
        route = scope.get("path_template") or path
        head = method == "HEAD"
        request_id = scope["request_id"] = request_id_of(scope)  # type: ignore[typeddict-unknown-key]
        echoed = (b"x-request-id", request_id.encode())
        metered = not self.metrics.exclude.search(path)
        status, duration = 500, 0.0
        started = closed = False

        async def watched_receive() -> ReceiveMessage:
            nonlocal closed
            message = await receive()
            if message["type"] == "http.disconnect" and not started:
                closed = True
            return message

        async def wrapped_send(message: Message) -> None:
            nonlocal status, duration, started
            if closed:
                return  # the client is gone: nothing reaches it
            if message["type"] == "http.response.start":
                status, started = message["status"], True
                headers = [*message.get("headers", ()), echoed]
                if method == "OPTIONS":
                    headers = with_full_allow(scope, headers)
                message["headers"] = headers
            elif message["type"] == "http.response.body":
                duration = time.perf_counter() - start
                if head:
                    message = {**message, "body": b""}
            await send(message)

        running = self.metrics.running(method, route) if metered else None
        if running is not None:
            running.inc()
        try:
            check_limits(scope, self.max_query_bytes, self.max_header_bytes)
            await self.auth(scope)
            self.rate_limit.count(scope)
            if query := scope["query_string"]:
                check_query_string(scope, query)
            if path.startswith("/api/"):
                guard = scope["litestar_app"].state.schema_guard  # the app's (create_app)
                guard.in_flight += 1
                try:
                    await self.app(scope, watched_receive, wrapped_send)
                finally:
                    guard.in_flight -= 1
            else:
                await self.app(scope, watched_receive, wrapped_send)
        except (HTTPException, DomainError) as exc:
            if not closed:
                await send_problem(exc, scope, receive, wrapped_send)
        finally:
            elapsed = time.perf_counter() - start
            if closed:
                status, duration = CLIENT_CLOSED, elapsed
            if running is not None:
                running.dec()
                self.metrics.record(method, route, status, duration)
            log_access(scope, status, elapsed, request_id, closed)
