"""The ASGI middleware around every route, and `build_middleware_stack`, which orders it."""

from __future__ import annotations

from collections.abc import Sequence

from litestar.middleware.base import DefineMiddleware

from service.config import Settings
from service.http.middleware.auth import ApiKeyAuth, KeyVerifier
from service.http.middleware.context import PUBLIC_PATHS
from service.http.middleware.pipeline import RequestPipeline
from service.http.middleware.rate_limit import KeyRateLimit


def build_middleware_stack(
    settings: Settings, verifier: KeyVerifier, tracing: Sequence[DefineMiddleware] = ()
) -> list[DefineMiddleware]:
    """The app's middleware, outermost first (Litestar runs the list in order, after routing, so
    each layer knows the route).

    `tracing` is the tracing middleware (service.http.tracing: none when tracing is off).
    """
    public = [*PUBLIC_PATHS, "^/metrics"] if settings.metrics_public else list(PUBLIC_PATHS)
    return [
        # The HTTP span, outermost: it times everything below and puts its trace id in the scope
        # before the access line, written by RequestPipeline on the way out, reads it.
        *tracing,
        # HEAD, metrics, request id and limits, the access line, the API key, the rate limit,
        # the query check and the in-flight count, in that order (RequestPipeline says why).
        DefineMiddleware(
            RequestPipeline,
            auth=ApiKeyAuth(verifier, exclude=public),
            rate_limit=KeyRateLimit(settings.rate_limit_per_minute),
            max_query_bytes=settings.max_query_bytes,
            max_header_bytes=settings.max_header_bytes,
        ),
    ]
