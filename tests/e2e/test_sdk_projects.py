"""`inv.projects` against the real server process: every operation and its typed errors."""

from __future__ import annotations

import uuid

import pytest
from vm_inventory_client import (
    NameConflict,
    NotFound,
    PreconditionFailed,
    ProjectNotEmpty,
    ValidationFailed,
    VMInventory,
)

from bench.server_process import ServerProcess


async def test_every_project_operation(server: ServerProcess) -> None:
    name = f"team-{uuid.uuid4().hex[:8]}"
    async with VMInventory(server.base_url, token=server.token) as inv:
        created = await inv.projects.create(name, description="A", quota={"vms": 10})
        assert (created.name, created.revision, created.quota.vms) == (name, 1, 10)
        assert created.quota.cpu_cores is None and created.usage.vms == 0
        assert (await inv.projects.get(name)).to_dict() == created.to_dict()
        assert name in [p.name for p in await inv.projects.all()]
        assert "default" in [p.name async for p in inv.projects.list(page_size=1)]

        updated = await inv.projects.update(name, quota={"cpu_cores": 8, "vms": None}, if_match=1)
        assert (updated.revision, updated.quota.vms, updated.quota.cpu_cores) == (2, None, 8)
        assert updated.description == "A"
        with pytest.raises(PreconditionFailed) as stale:
            await inv.projects.update(name, description="B", if_match=1)
        assert stale.value.current_revision == 2

        with pytest.raises(NameConflict):
            await inv.projects.create(name)
        with pytest.raises(ValidationFailed) as bad:
            await inv.projects.create("Not_A_Label")
        assert "name" in [e.field for e in bad.value.errors]
        with pytest.raises(ProjectNotEmpty):
            await inv.projects.delete("default")

        await inv.projects.delete(name, if_match=2)
        with pytest.raises(NotFound):
            await inv.projects.get(name)
