"""Rate limiting: a fixed-window request budget per API key (or client address) on /api."""

from __future__ import annotations

import re
import time

from litestar.enums import ScopeType
from litestar.exceptions import TooManyRequestsException
from litestar.middleware.rate_limit import RateLimitConfig
from litestar.types import ASGIApp, Receive, Scope, Send

from service.http.middleware.context import PUBLIC_PATHS


class KeyRateLimitMiddleware:
    """A fixed-window counter per key (or client address) with a Retry-After header.

    Litestar's RateLimitMiddleware keeps every request's timestamp in a JSON list per window,
    behind a lock and a Request object; here every key shares the clock window, so a request
    costs one dict update and the counts are dropped when the window ends.
    """

    def __init__(self, app: ASGIApp, config: RateLimitConfig) -> None:
        """Count requests per identifier in windows of the configured unit."""
        self.app = app
        self.unit, self.max_requests = config.rate_limit
        self.window = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}[self.unit]
        exclude = config.exclude
        patterns = [exclude] if isinstance(exclude, str) else list(exclude or ())
        self.exclude = re.compile("|".join(patterns)) if patterns else None
        self.window_end = 0
        self.counts: dict[str, int] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Count the request; 429 with Retry-After once the window's budget is spent."""
        if scope["type"] != ScopeType.HTTP or (
            self.exclude is not None and self.exclude.search(scope["path"])
        ):
            await self.app(scope, receive, send)
            return
        user = scope.get("user")
        key = getattr(user, "name", None) or (scope.get("client") or ("?",))[0]
        now = int(time.time())
        if now >= self.window_end:
            self.window_end = now - now % self.window + self.window
            self.counts = {}
        count = self.counts.get(key, 0)
        if count >= self.max_requests:
            retry = str(max(1, self.window_end - now))
            raise TooManyRequestsException(
                detail=f"more than {self.max_requests} requests per {self.unit}; retry later",
                headers={"Retry-After": retry, "RateLimit-Limit": str(self.max_requests)},
            )
        self.counts[key] = count + 1
        await self.app(scope, receive, send)


def rate_limit_config(per_minute: int) -> RateLimitConfig:
    """Per-key limit on /api routes (`per_minute` requests in each clock minute)."""
    return RateLimitConfig(
        rate_limit=("minute", per_minute),
        exclude=[*PUBLIC_PATHS, "^/metrics"],
        # Litestar only ever calls middleware_class(app, config=...), which ours takes.
        middleware_class=KeyRateLimitMiddleware,  # type: ignore[arg-type]
        set_rate_limit_headers=False,
    )
