"""VMInventory: a thin hand-written async facade over the generated client.

It pages lazily, retries with exponential backoff (connection errors, 503, 429 honouring
`Retry-After`), and raises the typed exceptions of `problems` for problem+json answers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType
from typing import Any, Self

import httpx

from ..client import AuthenticatedClient
from ..types import Response
from .bulk import VMBulk
from .projects import Projects
from .reading import VMReads
from .retries import RetryPolicy
from .sending import Sender
from .writing import VMWrites


class VMInventory:
    """`async with VMInventory(base_url, token=...) as inv:` then use `inv.vms` and
    `inv.projects`."""

    def __init__(
        self,
        base_url: str,
        *,
        token: str,
        timeout: float = 10.0,
        retry: RetryPolicy | None = None,
        httpx_args: Mapping[str, Any] | None = None,
    ) -> None:
        """Talk to the API at `base_url` with an API key (`token`, sent as a Bearer token)."""
        client = AuthenticatedClient(
            base_url=base_url,
            token=token,
            timeout=httpx.Timeout(timeout),
            httpx_args=dict(httpx_args or {}),
        )
        self.sender = Sender(client, retry or RetryPolicy())
        self.vms = VMs(self.sender)
        self.projects = Projects(self.sender)

    @property
    def client(self) -> AuthenticatedClient:
        """The generated client, for calling the generated functions directly."""
        return self.sender.client

    @property
    def retry(self) -> RetryPolicy:
        """How requests are retried."""
        return self.sender.retry

    async def __aenter__(self) -> Self:
        """Open the connection pool."""
        await self.client.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the connection pool."""
        await self.client.__aexit__(exc_type, exc, tb)

    async def call(
        self, send: Callable[[], Awaitable[Response[Any]]], *, resend_safe: bool
    ) -> Response[Any]:
        """Send with retries (see `RetryPolicy`); return a 2xx answer or raise an `APIError`."""
        return await self.sender.call(send, resend_safe=resend_safe)


class VMs:
    """The /api/v1/vms operations: the reads (reading.py), the single writes (writing.py) and the
    bulk operations (bulk.py), all sending through one `Sender`."""

    def __init__(self, sender: Sender) -> None:
        """Give the reads, the writes and the bulk operations the same sender."""
        reads, writes, bulk = VMReads(sender), VMWrites(sender), VMBulk(sender)
        self.get = reads.get
        self.get_if_changed = reads.get_if_changed
        self.list = reads.list
        self.all = reads.all
        self.count = reads.count
        self.events = reads.events
        self.watch = reads.watch
        self.informer = reads.informer
        self.create = writes.create
        self.replace = writes.replace
        self.update = writes.update
        self.delete = writes.delete
        self.restore = writes.restore
        self.upsert = bulk.upsert
        self.batch = bulk.batch
        self.sync = bulk.sync
        self.export = bulk.export
