"""Rate limiting: a fixed-window request budget per API key (or client address) on /api."""

from __future__ import annotations

import re
import time

from litestar.exceptions import TooManyRequestsException
from litestar.types import Scope

from service.http.middleware.context import PUBLIC_PATHS

WINDOW_SECONDS = 60
EXCLUDE = re.compile("|".join([*PUBLIC_PATHS, "^/metrics"]))


class KeyRateLimit:
    """A fixed-window counter per key (or client address) with a Retry-After header, in each
    clock minute; run per request by service.http.middleware.pipeline.

    Not Litestar's RateLimitMiddleware: it keeps every request's timestamp in a JSON list per
    window, behind a lock and a Request object; here every key shares the clock window, so a
    request costs one dict update and the counts are dropped when the window ends.
    """

    def __init__(self, per_minute: int) -> None:
        """Allow `per_minute` requests per key in each clock minute."""
        self.max_requests = per_minute
        self.window_end = 0
        self.counts: dict[str, int] = {}

    def count(self, scope: Scope) -> None:
        """Count the request; 429 with Retry-After once the window's budget is spent."""
        if EXCLUDE.search(scope["path"]):
            return
        user = scope.get("user")
        key = getattr(user, "name", None) or (scope.get("client") or ("?",))[0]
        now = int(time.time())
        if now >= self.window_end:
            self.window_end = now - now % WINDOW_SECONDS + WINDOW_SECONDS
            self.counts = {}
        count = self.counts.get(key, 0)
        if count >= self.max_requests:
            retry = str(max(1, self.window_end - now))
            raise TooManyRequestsException(
                detail=f"more than {self.max_requests} requests per minute; retry later",
                headers={"Retry-After": retry, "RateLimit-Limit": str(self.max_requests)},
            )
        self.counts[key] = count + 1
