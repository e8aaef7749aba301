"""VMInventory: a thin hand-written async facade over the generated client.

It pages lazily, retries with exponential backoff (connection errors, 503, 429 honouring
`Retry-After`), and raises the typed exceptions of `problems` for problem+json answers.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType
from typing import Any, Self

import httpx

from .api.vms import (
    create_vm,
    delete_vm,
    replace_vm,
    restore_vm,
    update_vm,
)
from .arguments import Revision, etag, labels_model
from .bulk import VMBulk
from .client import AuthenticatedClient
from .models import (
    VM,
    InitialStatus,
    VMCreate,
    VMCreateLabels,
    VMPatch,
    VMPatchLabelsType0,
    VMReplace,
    VMReplaceLabels,
    VMStatus,
)
from .retries import RetryPolicy, send_with_retries
from .types import UNSET, Response, Unset


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


class VMs(VMBulk):
    """The /api/v1/vms operations: the single writes here, the reads (reading.VMReads) and the
    bulk operations (bulk.VMBulk) inherited."""

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
        purge: bool = False,
        if_match: Revision | None = None,
        idempotency_key: str | None = None,
    ) -> None:
        """Delete a VM (DeleteVM), restorable until its `purge_at`; `force=True` also deletes a
        running or suspended one. `purge=True` (an admin key) removes it at once, live or
        deleted."""
        send = functools.partial(
            delete_vm.asyncio_detailed,
            vm_id,
            client=self._inv.client,
            force=force,
            purge=purge,
            if_match=etag(if_match),
            idempotency_key=idempotency_key or str(uuid.uuid4()),
        )
        await self._inv.call(send, resend_safe=True)

    async def restore(
        self, vm_id: str, *, if_match: Revision | None = None, idempotency_key: str | None = None
    ) -> VM:
        """Make a deleted VM live again at a new revision (RestoreVM). NotDeleted when it is
        live; NameConflict (`holder_id`) when a live VM took its name; NotFound once purged."""
        return await self._write(
            restore_vm.asyncio_detailed, idempotency_key, vm_id, if_match=etag(if_match)
        )
