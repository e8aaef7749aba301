"""VMInventory: a thin hand-written async facade over the generated client.

It pages lazily, retries with exponential backoff (connection errors, 503, 429 honouring
`Retry-After`), and raises the typed exceptions of `problems` for problem+json answers.
"""

from __future__ import annotations

import builtins
import functools
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from types import TracebackType
from typing import Any, Self, Unpack

import httpx

from .api.vms import (
    create_vm,
    delete_vm,
    get_vm,
    list_v_ms,
    list_vm_events,
    replace_vm,
    update_vm,
)
from .arguments import Filters, Revision, etag, labels_model, pages, parsed, query
from .client import AuthenticatedClient
from .models import (
    VM,
    InitialStatus,
    SortOrder,
    VMCreate,
    VMCreateLabels,
    VMEvent,
    VMEventPage,
    VMPage,
    VMPatch,
    VMPatchLabelsType0,
    VMReplace,
    VMReplaceLabels,
    VMStatus,
)
from .retries import RetryPolicy, send_with_retries
from .types import UNSET, Response, Unset
from .watching import Informer, WatchEvent, watch_events


class VMInventory:
    """`async with VMInventory(base_url, token=...) as inv:` then use `inv.vms`."""

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
        self.client = AuthenticatedClient(
            base_url=base_url,
            token=token,
            timeout=httpx.Timeout(timeout),
            httpx_args=dict(httpx_args or {}),
        )
        self.retry = retry or RetryPolicy()
        self.vms = VMs(self)

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
        return await send_with_retries(send, self.retry, resend_safe=resend_safe)


class VMs:
    """The /api/v1/vms operations."""

    def __init__(self, inventory: VMInventory) -> None:
        """Bind to a `VMInventory`."""
        self._inv = inventory

    async def create(
        self,
        *,
        name: str,
        os: str,
        cpu_cores: int,
        memory_mib: int,
        storage_gib: int,
        status: str | InitialStatus = InitialStatus.PROVISIONING,
        ip_address: str | None = None,
        labels: Mapping[str, str] | None = None,
        description: str = "",
        idempotency_key: str | None = None,
    ) -> VM:
        """Register a VM (CreateVM); every attempt carries the same Idempotency-Key."""
        body = VMCreate(
            name=name,
            os=os,
            cpu_cores=cpu_cores,
            memory_mib=memory_mib,
            storage_gib=storage_gib,
            status=InitialStatus(status),
            ip_address=ip_address,
            labels=labels_model(VMCreateLabels, labels or {}),
            description=description,
        )
        return await self._write(create_vm.asyncio_detailed, idempotency_key, body=body)

    async def get(self, vm_id: str) -> VM:
        """One VM (GetVM)."""
        send = functools.partial(get_vm.asyncio_detailed, vm_id, client=self._inv.client)
        return parsed(await self._inv.call(send, resend_safe=True), VM)

    async def get_if_changed(self, vm_id: str, revision: Revision) -> VM | None:
        """The VM when its revision is no longer `revision`, else None (GetVM, If-None-Match)."""
        send = functools.partial(
            get_vm.asyncio_detailed, vm_id, client=self._inv.client, if_none_match=etag(revision)
        )
        response = await self._inv.call(send, resend_safe=True)
        return None if response.status_code == 304 else parsed(response, VM)

    async def replace(
        self,
        vm_id: str,
        *,
        name: str,
        os: str,
        cpu_cores: int,
        memory_mib: int,
        storage_gib: int,
        status: str | VMStatus | Unset = UNSET,
        ip_address: str | None = None,
        labels: Mapping[str, str] | None = None,
        description: str = "",
        if_match: Revision | None = None,
        idempotency_key: str | None = None,
    ) -> VM:
        """Replace every writable field (ReplaceVM); omitted optional ones return to defaults.

        With `if_match`, only while the VM is still at that revision (else PreconditionFailed).
        """
        body = VMReplace(
            name=name,
            os=os,
            cpu_cores=cpu_cores,
            memory_mib=memory_mib,
            storage_gib=storage_gib,
            status=UNSET if isinstance(status, Unset) else VMStatus(status),
            ip_address=ip_address,
            labels=labels_model(VMReplaceLabels, labels or {}),
            description=description,
        )
        return await self._write(
            replace_vm.asyncio_detailed, idempotency_key, vm_id, body=body, if_match=etag(if_match)
        )

    async def update(
        self,
        vm_id: str,
        *,
        name: str | Unset = UNSET,
        status: str | VMStatus | Unset = UNSET,
        os: str | Unset = UNSET,
        cpu_cores: int | Unset = UNSET,
        memory_mib: int | Unset = UNSET,
        storage_gib: int | Unset = UNSET,
        ip_address: str | Unset | None = UNSET,
        labels: Mapping[str, str | None] | Unset = UNSET,
        description: str | Unset = UNSET,
        if_match: Revision | None = None,
        idempotency_key: str | None = None,
    ) -> VM:
        """Change only the given fields (UpdateVM); `ip_address=None` clears it, a None label
        value removes that label; `if_match` as for `replace`."""
        body = VMPatch(
            name=name,
            status=UNSET if isinstance(status, Unset) else VMStatus(status),
            os=os,
            cpu_cores=cpu_cores,
            memory_mib=memory_mib,
            storage_gib=storage_gib,
            ip_address=ip_address,
            labels=UNSET if isinstance(labels, Unset) else labels_model(VMPatchLabelsType0, labels),
            description=description,
        )
        return await self._write(
            update_vm.asyncio_detailed, idempotency_key, vm_id, body=body, if_match=etag(if_match)
        )

    async def delete(
        self,
        vm_id: str,
        *,
        force: bool = False,
        if_match: Revision | None = None,
        idempotency_key: str | None = None,
    ) -> None:
        """Delete a VM (DeleteVM); `force=True` also deletes a running or suspended one."""
        send = functools.partial(
            delete_vm.asyncio_detailed,
            vm_id,
            client=self._inv.client,
            force=force,
            if_match=etag(if_match),
            idempotency_key=idempotency_key or str(uuid.uuid4()),
        )
        await self._inv.call(send, resend_safe=True)

    async def _write(
        self,
        operation: Callable[..., Awaitable[Response[Any]]],
        key: str | None,
        *args: Any,
        **kwargs: Any,
    ) -> VM:
        """Send a write with an Idempotency-Key (generated unless given), reused by each retry."""
        send = functools.partial(
            operation, *args, client=self._inv.client, idempotency_key=key or str(uuid.uuid4()),
            **kwargs,
        )  # fmt: skip
        return parsed(await self._inv.call(send, resend_safe=True), VM)

    def events(self, vm_id: str, *, page_size: int = 100) -> AsyncIterator[VMEvent]:
        """The VM's change history, newest first, fetching pages as they are needed."""

        async def fetch(token: str | Unset) -> VMEventPage:
            send = functools.partial(
                list_vm_events.asyncio_detailed,
                vm_id,
                client=self._inv.client,
                page_size=page_size,
                page_token=token,
            )
            return parsed(await self._inv.call(send, resend_safe=True), VMEventPage)

        return pages(fetch)

    def list(
        self,
        *,
        sort: str | SortOrder | None = None,
        page_size: int = 100,
        **filters: Unpack[Filters],
    ) -> AsyncIterator[VM]:
        """Every VM matching `filters` in `sort` order, fetching pages only as they are needed."""

        async def fetch(token: str | Unset) -> VMPage:
            send = functools.partial(
                list_v_ms.asyncio_detailed,
                client=self._inv.client,
                sort=UNSET if sort is None else SortOrder(sort),
                page_size=page_size,
                page_token=token,
                **query(filters),
            )
            return parsed(await self._inv.call(send, resend_safe=True), VMPage)

        return pages(fetch)

    async def all(self, **filters: Unpack[Filters]) -> builtins.list[VM]:
        """Every VM matching `filters`, newest first, as a list."""
        return [vm async for vm in self.list(**filters)]

    async def count(self, **filters: Unpack[Filters]) -> int:
        """How many VMs match `filters`."""
        send = functools.partial(
            list_v_ms.asyncio_detailed,
            client=self._inv.client,
            page_size=1,
            include_total=True,
            **query(filters),
        )
        total = parsed(await self._inv.call(send, resend_safe=True), VMPage).total_size
        if isinstance(total, Unset):
            raise TypeError("the server did not return total_size")
        return total

    def watch(
        self,
        *,
        resume_token: str | None = None,
        bookmarks: bool = False,
        **filters: Unpack[Filters],
    ) -> AsyncIterator[WatchEvent]:
        """Every change to VMs matching `filters` after `resume_token` (a ListVMs watch_token or
        an event's resume_token; None: from now), reconnecting on its own; 410 -> WatchExpired."""
        http = self._inv.client.get_async_httpx_client
        return watch_events(http, filters, resume_token, bookmarks=bookmarks)

    def informer(self, **filters: Unpack[Filters]) -> Informer:
        """A live local cache of the VMs matching `filters`: `await start()`, read `.vms`, and
        `async for event in informer` to follow each change."""

        async def fetch(token: str | None) -> VMPage:
            send = functools.partial(
                list_v_ms.asyncio_detailed, client=self._inv.client, page_size=500,
                page_token=UNSET if token is None else token, **query(filters),
            )  # fmt: skip
            return parsed(await self._inv.call(send, resend_safe=True), VMPage)

        return Informer(fetch, self._inv.client.get_async_httpx_client, filters)
