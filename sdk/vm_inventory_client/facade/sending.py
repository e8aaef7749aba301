"""Sender: the one object through which every request of the facade goes, with its retries."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from ..client import AuthenticatedClient
from ..types import Response
from .retries import RetryPolicy, send_with_retries

# A generated operation's `asyncio_detailed` function.
Operation = Callable[..., Awaitable[Response[Any]]]


class Sender:
    """The generated client and the retry policy, shared by the reads, writes and bulk operations
    of `inv.vms`; every request is resent only when that cannot apply it twice."""

    def __init__(self, client: AuthenticatedClient, retry: RetryPolicy) -> None:
        """Send with `client`, retrying as `retry` says."""
        self.client = client
        self.retry = retry

    def http(self) -> httpx.AsyncClient:
        """The client's httpx client, for the streams the generated code does not read."""
        return self.client.get_async_httpx_client()

    async def call(
        self, send: Callable[[], Awaitable[Response[Any]]], *, resend_safe: bool
    ) -> Response[Any]:
        """Send with retries (see `RetryPolicy`); return a 2xx/3xx answer or raise an `APIError`.

        `resend_safe`: a read, or a write carrying an Idempotency-Key (every request of `inv.vms`).
        """
        return await send_with_retries(send, self.retry, resend_safe=resend_safe)

    async def read(self, operation: Operation, *args: Any, **kwargs: Any) -> Response[Any]:
        """Call a generated read, `operation(*args, client=..., **kwargs)`, with retries."""
        send = functools.partial(operation, *args, client=self.client, **kwargs)
        return await self.call(send, resend_safe=True)

    async def write(
        self, operation: Operation, *args: Any, idempotency_key: str | None, **kwargs: Any
    ) -> Response[Any]:
        """Call a generated write with an Idempotency-Key (generated unless given) that every
        retry reuses, so the server applies it once however often it is sent."""
        key = idempotency_key or str(uuid.uuid4())
        send = functools.partial(
            operation, *args, client=self.client, idempotency_key=key, **kwargs
        )
        return await self.call(send, resend_safe=True)
