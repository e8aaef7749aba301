"""The single writes of `inv.vms`: CreateVM, ReplaceVM, UpdateVM, DeleteVM and RestoreVM, each
with an Idempotency-Key that its retries reuse."""

from __future__ import annotations

from collections.abc import Mapping

from ..api.vms import create_vm, delete_vm, replace_vm, restore_vm, update_vm
from ..models import (
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
from ..types import UNSET, Unset
from .arguments import Revision, etag, labels_model, parsed
from .sending import Sender


class VMWrites:
    """The single writes of /api/v1/vms."""

    def __init__(self, sender: Sender) -> None:
        """Send through `sender` (shared with the reads and the bulk operations)."""
        self._sender = sender

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
        response = await self._sender.write(
            create_vm.asyncio_detailed, body=body, idempotency_key=idempotency_key
        )
        return parsed(response, VM)

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
        response = await self._sender.write(
            replace_vm.asyncio_detailed, vm_id, body=body, if_match=etag(if_match),
            idempotency_key=idempotency_key,
        )  # fmt: skip
        return parsed(response, VM)

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
        response = await self._sender.write(
            update_vm.asyncio_detailed, vm_id, body=body, if_match=etag(if_match),
            idempotency_key=idempotency_key,
        )  # fmt: skip
        return parsed(response, VM)

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
        await self._sender.write(
            delete_vm.asyncio_detailed, vm_id, force=force, purge=purge, if_match=etag(if_match),
            idempotency_key=idempotency_key,
        )  # fmt: skip

    async def restore(
        self, vm_id: str, *, if_match: Revision | None = None, idempotency_key: str | None = None
    ) -> VM:
        """Make a deleted VM live again at a new revision (RestoreVM). NotDeleted when it is
        live; NameConflict (`holder_id`) when a live VM took its name; NotFound once purged."""
        response = await self._sender.write(
            restore_vm.asyncio_detailed, vm_id, if_match=etag(if_match),
            idempotency_key=idempotency_key,
        )  # fmt: skip
        return parsed(response, VM)
