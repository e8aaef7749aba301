"""Migration add_recent_events: up lets a VM hold its recent events; down moves every one of
them into `vm_events` (keeping its id; an event moved already by an interrupted run is skipped)
and removes the arrays, so code reading `vm_events` alone reads the same history; up again
works."""

from __future__ import annotations

from typing import Any

import pytest
from bson import ObjectId
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import WriteError

from service.storage.history import to_event
from service.storage.migrations.runner import Migrator
from service.storage.migrations.scripts import discover
from service.storage.recent import RECENT_MAX
from service.storage.vms import VMRepository
from tests.integration.test_repository_contract import fields
from tests.unit.fake_repository import event

Db = AsyncDatabase[dict[str, Any]]
(SCRIPT,) = [s for s in discover()[0] if s.name.endswith("_add_recent_events")]


async def seeded(db: Db) -> dict[str, list[Any]]:
    """VMs with events in their arrays, past the bound, deleted, and never written; each VM's
    history as the repository reads it."""
    repo = VMRepository(db)
    plan = {"few": 3, "bound": RECENT_MAX + 2, "deleted": 2, "never": 0}
    ids = {}
    for name, updates in plan.items():
        vm = await repo.create(fields(name))
        for revision in range(1, updates + 1):
            await repo.update(vm.id, revision, {"description": f"d{revision}"}, event(revision + 1))
        ids[name] = vm.id
    await repo.delete(ids["deleted"], 3, event(4, "deleted"))
    return {vm_id: await repo.list_events(vm_id, 100) for vm_id in ids.values()}


async def validator(db: Db) -> dict[str, Any]:
    (info,) = [c async for c in await db.list_collections(filter={"name": "vms"})]
    schema: dict[str, Any] = info["options"]["validator"]["$jsonSchema"]
    return schema


async def test_down_moves_every_recent_event_and_up_again_works(fresh_db: Db) -> None:
    migrator = Migrator(fresh_db)
    await migrator.up()
    assert (await validator(fresh_db))["properties"]["recent_events"]["bsonType"] == "array"
    with pytest.raises(WriteError):  # the validator checks the array's shape
        await fresh_db.vms.insert_one({**fields("bad"), "recent_events": "x"})
    before = await seeded(fresh_db)
    in_arrays = await fresh_db.vms.count_documents({"recent_events": {"$exists": True}})
    assert in_arrays == 2  # `few`, and `bound` past its move
    # A run interrupted after moving one event: that one is skipped, not doubled.
    few = await fresh_db.vms.find_one({"name": "few"})
    assert few is not None
    await fresh_db.vm_events.insert_one({**few["recent_events"][0], "vm_id": few["_id"]})

    assert await migrator.down(to=SCRIPT.version - 1) == [SCRIPT.version]
    assert await fresh_db.vms.count_documents({"recent_events": {"$exists": True}}) == 0
    assert "recent_events" not in (await validator(fresh_db))["properties"]
    for vm_id, events in before.items():  # read as the code before it reads: vm_events alone
        stored = fresh_db.vm_events.find({"vm_id": ObjectId(vm_id)}).sort("revision", -1)
        docs = await stored.to_list()
        if docs:
            assert [to_event(d) for d in docs] == events
        else:  # never written: its `created` event still derived from the VM
            assert [e.action.value for e in events] == ["created"]

    assert await migrator.up() == [SCRIPT.version]
    repo = VMRepository(fresh_db)
    for vm_id, events in before.items():
        assert await repo.list_events(vm_id, 100) == events
    vm_id = next(iter(before))
    latest = before[vm_id][0].revision
    await repo.update(vm_id, latest, {"os": "debian-12"}, event(latest + 1))
    events_of = await repo.list_events(vm_id, 100)
    assert [e.revision for e in events_of] == list(range(latest + 1, 0, -1))
