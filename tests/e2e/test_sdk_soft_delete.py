"""The SDK facade's soft delete against the real server: restore, show_deleted, purge."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from vm_inventory_client import (
    Forbidden,
    NameConflict,
    NotDeleted,
    NotFound,
    PreconditionFailed,
    VMInventory,
)
from vm_inventory_client.types import Unset

from bench.server_process import ServerProcess

SPEC = {"os": "debian-12", "cpu_cores": 1, "memory_mib": 512, "storage_gib": 10}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


async def test_delete_show_deleted_restore_and_purge(server: ServerProcess) -> None:
    tag = unique("sd")
    async with VMInventory(server.base_url, token=server.token) as inv:
        vm = await inv.vms.create(name=tag, labels={"tag": tag}, **SPEC)
        assert isinstance(vm.deleted_at, Unset)
        await inv.vms.delete(vm.id, if_match=vm.revision)
        with pytest.raises(NotFound):
            await inv.vms.get(vm.id)
        deleted = await inv.vms.get(vm.id, show_deleted=True)
        assert not isinstance(deleted.deleted_at, Unset)
        assert not isinstance(deleted.purge_at, Unset)
        assert deleted.purge_at > deleted.deleted_at
        by_tag = [f"tag={tag}"]
        assert await inv.vms.all(label=by_tag) == []
        assert [v.id async for v in inv.vms.list(label=by_tag, show_deleted=True)] == [vm.id]
        assert (
            await inv.vms.count(label=by_tag),
            await inv.vms.count(label=by_tag, show_deleted=True),
        ) == (0, 1)

        # The name is free meanwhile; a restore then names the holder.
        holder = await inv.vms.create(name=tag.upper(), **SPEC)
        with pytest.raises(NameConflict) as taken:
            await inv.vms.restore(vm.id)
        assert taken.value.holder_id == holder.id
        await inv.vms.delete(holder.id, purge=True)

        with pytest.raises(PreconditionFailed):
            await inv.vms.restore(vm.id, if_match=1)
        back = await inv.vms.restore(vm.id, if_match=deleted.revision, idempotency_key=tag)
        assert (back.id, back.name, back.revision) == (vm.id, tag, vm.revision + 2)
        assert isinstance(back.deleted_at, Unset)
        again = await inv.vms.restore(vm.id, if_match=deleted.revision, idempotency_key=tag)
        assert again.to_dict() == back.to_dict()  # the same request, replayed
        with pytest.raises(NotDeleted):
            await inv.vms.restore(vm.id)

        await inv.vms.delete(vm.id, purge=True)
        with pytest.raises(NotFound):
            await inv.vms.get(vm.id, show_deleted=True)
        with pytest.raises(NotFound):
            await inv.vms.restore(vm.id)
        actions = [e.action.value async for e in inv.vms.events(vm.id)]
        assert actions == ["purged", "restored", "deleted", "created"]


async def test_purge_needs_an_admin_key(server: ServerProcess) -> None:
    writer = await asyncio.to_thread(server.create_api_key, unique("writer"), "write")
    async with VMInventory(server.base_url, token=writer) as inv:
        vm = await inv.vms.create(name=unique("sd-w"), **SPEC)
        with pytest.raises(Forbidden):
            await inv.vms.delete(vm.id, purge=True)
        await inv.vms.delete(vm.id)
        assert (await inv.vms.restore(vm.id)).revision == 3
