"""Retries with exponential backoff: how the facade's sender (sending.Sender) answers a failure."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from ..types import Response
from .problems import ConnectionFailed, IdempotencyKeyInFlight, error_from

# Failures before the request reached the server: always safe to send again.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# Failures after it may have been processed: resent only when that cannot apply it twice.
MAYBE_SENT = (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError, httpx.ReadTimeout)
RETRY_STATUSES = frozenset({429, 503})


@dataclass(frozen=True)
class RetryPolicy:
    """How many attempts, and how long to wait between them."""

    attempts: int = 4
    backoff: float = 0.25
    max_delay: float = 30.0
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    def delay(self, attempt: int, retry_after: float | None) -> float | None:
        """Wait before attempt `attempt + 1`: at least Retry-After; None when that is too long."""
        backoff = min(self.backoff * 2.0 ** (attempt - 1), self.max_delay)
        backoff *= random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not security
        if retry_after is None:
            return backoff
        return None if retry_after > self.max_delay else max(retry_after, 0.0)


async def send_with_retries(
    send: Callable[[], Awaitable[Response[Any]]], policy: RetryPolicy, *, resend_safe: bool
) -> Response[Any]:
    """Send until a final answer: return a 2xx/3xx one, raise the matching `APIError` otherwise.

    Connection errors, 503, 429 and an in-flight Idempotency-Key are retried, up to
    `policy.attempts` in all; a request that may have reached the server is resent only when
    `resend_safe` (a read, or a write carrying an Idempotency-Key).
    """
    attempt = 0
    while True:
        attempt += 1
        delay: float | None
        try:
            response = await send()
        except (*NOT_SENT, *MAYBE_SENT) as exc:
            if (not resend_safe and isinstance(exc, MAYBE_SENT)) or attempt >= policy.attempts:
                raise ConnectionFailed(f"{type(exc).__name__}: {exc}") from exc
            delay = policy.delay(attempt, None) or 0.0
        else:
            status = int(response.status_code)
            if status < 400:
                return response
            error = error_from(status, response.content, response.headers, response.parsed)
            retryable = status in RETRY_STATUSES or isinstance(error, IdempotencyKeyInFlight)
            if not retryable or attempt >= policy.attempts:
                raise error
            delay = policy.delay(attempt, error.retry_after)
            if delay is None:
                raise error
        await policy.sleep(delay)
