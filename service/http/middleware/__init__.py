"""The ASGI middleware around every route, and `build_middleware_stack`, which orders it."""

from __future__ import annotations

from collections.abc import Sequence

from litestar.middleware.base import DefineMiddleware

from service.config import Settings
from service.http.middleware.auth import ApiKeyAuthMiddleware, KeyVerifier
from service.http.middleware.context import PUBLIC_PATHS, RequestContextMiddleware
from service.http.middleware.head import HeadMiddleware
from service.http.middleware.in_flight import InFlightMiddleware
from service.http.middleware.metrics import prometheus_config
from service.http.middleware.query_check import QueryCheckMiddleware
from service.http.middleware.rate_limit import rate_limit_config


def build_middleware_stack(
    settings: Settings, verifier: KeyVerifier, tracing: Sequence[DefineMiddleware] = ()
) -> list[DefineMiddleware]:
    """The app's middleware, outermost first (Litestar runs the list in order, after routing, so
    each layer knows the route). The order is load-bearing: each layer says why it sits there.

    `tracing` is the tracing middleware (service.http.tracing: none when tracing is off).
    """
    public = [*PUBLIC_PATHS, "^/metrics"] if settings.metrics_public else list(PUBLIC_PATHS)
    return [
        # The HTTP span, outermost: it times everything below and puts its trace id in the scope
        # before the access line, written by RequestContextMiddleware on the way out, reads it.
        *tracing,
        # Outside everything that answers: a HEAD answer loses its body whoever wrote it, the
        # route or RequestContextMiddleware's rendering of a 401, 414 or 429.
        DefineMiddleware(HeadMiddleware),
        # Outside RequestContextMiddleware, so it counts the statuses that one renders for the
        # layers inside it (401, 403, 429, 400 of the query check) and its own 414 and 431.
        prometheus_config().middleware,
        # Request id, query and header size limits, the access line; renders the errors the layers
        # below raise as problem+json carrying X-Request-ID, so none leaves as a bare 500.
        DefineMiddleware(
            RequestContextMiddleware,
            max_query_bytes=settings.max_query_bytes,
            max_header_bytes=settings.max_header_bytes,
        ),
        # The caller (`scope["user"]`), which the rate limit counts by and the access line names.
        DefineMiddleware(ApiKeyAuthMiddleware, verifier=verifier, exclude=public),
        # Per key, so inside authentication; before the query check, so refused requests are
        # counted too.
        rate_limit_config(settings.rate_limit_per_minute).middleware,
        # Inside authentication and the rate limit: a caller without a key gets 401 whatever
        # its query string, and a caller over its budget 429.
        DefineMiddleware(QueryCheckMiddleware),
        # Innermost: counts only requests that reach the route's readiness check (in its
        # dependency), from before that check until the response is sent, as `migrate down` needs.
        DefineMiddleware(InFlightMiddleware),
    ]
