"""The SDK's bulk calls against the real server: batch, upsert, sync and export."""

from __future__ import annotations

import uuid

import pytest
from vm_inventory_client import Conflict, PreconditionFailed, VMInventory

from bench.server_process import ServerProcess

SPEC = {"os": "ubuntu-24.04", "cpu_cores": 2, "memory_mib": 4096, "storage_gib": 40}


def unique(prefix: str) -> str:
    """A name prefix no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def test_batch_and_upsert(server: ServerProcess) -> None:
    prefix = unique("bat")
    async with VMInventory(server.base_url, token=server.token) as inv:
        results = await inv.vms.batch(
            [
                {"op": "create", "vm": {"name": f"{prefix}-a", **SPEC}},
                {"op": "create", "vm": {"name": f"{prefix}-A", **SPEC}},
                {"op": "upsert", "name": f"{prefix}-b", "vm": {"name": f"{prefix}-b", **SPEC}},
            ]
        )
        assert [r.status for r in results] == [201, 409, 201]
        assert results[1].problem is not None and results[1].problem.type_.endswith(
            "/name-conflict"
        )
        created = results[0].vm
        assert created is not None and not isinstance(created, str)
        with pytest.raises(Conflict) as failed:
            await inv.vms.batch(
                [
                    {"op": "delete", "id": created.id},
                    {"op": "create", "vm": {"name": f"{prefix}-B", **SPEC}},
                ],
                atomic=True,
            )
        assert [r["status"] for r in failed.value.results] == [424, 409]
        assert (await inv.vms.get(created.id)).id == created.id  # nothing applied

        vm = await inv.vms.upsert(f"{prefix}-c", {"name": f"{prefix}-c", **SPEC})
        again = await inv.vms.upsert(
            f"{prefix}-C", {"name": f"{prefix}-c", **SPEC, "cpu_cores": 4}, if_match=vm.revision
        )
        assert (again.id, again.cpu_cores, again.revision) == (vm.id, 4, 2)
        with pytest.raises(PreconditionFailed):
            await inv.vms.upsert(f"{prefix}-c", {"name": f"{prefix}-c", **SPEC}, create_only=True)


async def test_sync_then_export(server: ServerProcess) -> None:
    prefix = unique("syn")
    vms = [{"name": f"{prefix}-{i:04d}", **SPEC, "labels": {"i": str(i)}} for i in range(1234)]
    async with VMInventory(server.base_url, token=server.token) as inv:
        results = [r async for r in inv.vms.sync(vms, chunk_size=500)]
        assert [r.index for r in results] == list(range(len(vms)))
        assert {r.status for r in results} == {201}
        vms[7]["cpu_cores"] = 8
        again = [r async for r in inv.vms.sync(vms[:10], chunk_size=3)]
        assert [r.status for r in again] == [200] * 10
        exported = [vm async for vm in inv.vms.export(name_prefix=prefix, sort="name")]
        assert [vm.name for vm in exported] == [v["name"] for v in vms]
        assert exported[7].cpu_cores == 8 and exported[7].labels.to_dict() == {"i": "7"}
        some = [vm async for vm in inv.vms.export(name_prefix=f"{prefix}-000", cpu_cores_min=3)]
        assert [vm.name for vm in some] == [f"{prefix}-0007"]


async def test_sync_answers_a_bad_name_per_item(server: ServerProcess) -> None:
    """One VM with a bad name fails that VM alone: README's `status >= 400` branch runs."""
    prefix = unique("bad")
    vms = [{"name": f"{prefix}-{i}", **SPEC} for i in range(5)] + [{"name": "bad name!", **SPEC}]
    async with VMInventory(server.base_url, token=server.token) as inv:
        results = [r async for r in inv.vms.sync(vms, chunk_size=500)]
        assert [r.status for r in results] == [201] * 5 + [400]
        problem = results[5].problem
        assert problem is not None and not isinstance(problem, str)
        assert [e.field for e in problem.errors or []] == ["name"]
        assert len([vm async for vm in inv.vms.export(name_prefix=prefix)]) == 5
