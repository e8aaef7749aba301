"""A write and its event commit together or not at all (real MongoDB transactions)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from bson import ObjectId
from pymongo.asynchronous.database import AsyncDatabase

from service.domain.errors import NameConflict, WriteContention
from service.domain.projects import DEFAULT_PROJECT
from service.storage.recent import RECENT_MAX
from service.storage.vms import VMRepository

pytestmark = pytest.mark.usefixtures("clean")
Db = AsyncDatabase[dict[str, Any]]


def fields(name: str = "web-01") -> dict[str, Any]:
    now = datetime.now(UTC).replace(microsecond=0)
    return {
        "name": name, "project": DEFAULT_PROJECT, "status": "provisioning", "os": "ubuntu-24.04",
        "cpu_cores": 2,
        "memory_mib": 4096, "storage_gib": 40, "ip_address": None, "labels": {},
        "description": "", "revision": 1, "created_at": now, "updated_at": now,
        "created_by": "t", "created_request_id": "r",
    }  # fmt: skip


def event(revision: int, action: str = "updated") -> dict[str, Any]:
    now = datetime.now(UTC)
    built = {
        "project": DEFAULT_PROJECT, "revision": revision, "action": action, "changes": {},
        "actor": "t", "request_id": "r", "timestamp": now,
    }  # fmt: skip
    return {**built, "purge_at": now + timedelta(days=30)} if action == "deleted" else built


async def test_an_update_whose_event_cannot_be_written_changes_nothing(db: Db) -> None:
    """The update that finds the VM's array of recent events full writes `vm_events` in a
    transaction (service.storage.recent): its event's revision taken there aborts it all,
    the array's events staying where they were."""
    repo = VMRepository(db)
    vm = await repo.create(fields())
    for revision in range(1, RECENT_MAX):  # the created event and 15 updates: full
        await repo.update(vm.id, revision, {"description": f"d{revision}"}, event(revision + 1))
    full = RECENT_MAX + 1
    await db.vm_events.insert_one({**event(full), "vm_id": ObjectId(vm.id)})  # revision taken
    with pytest.raises(WriteContention):
        await repo.update(vm.id, RECENT_MAX, {"os": "debian-12"}, event(full))
    stored = await repo.get_by_id(vm.id)
    assert (stored.os, stored.revision) == ("ubuntu-24.04", RECENT_MAX)
    document = await db.vms.find_one({"_id": ObjectId(vm.id)})
    assert document is not None
    assert [e["revision"] for e in document["recent_events"]] == list(range(1, full))


async def test_a_delete_whose_event_cannot_be_written_deletes_nothing(db: Db) -> None:
    repo = VMRepository(db)
    vm = await repo.create(fields())
    await db.vm_events.insert_one({**event(2), "vm_id": ObjectId(vm.id)})
    with pytest.raises(WriteContention):
        await repo.delete(vm.id, 1, event(2, "deleted"))
    assert (await repo.get_by_id(vm.id)).revision == 1


async def test_a_create_that_fails_records_nothing(db: Db) -> None:
    repo = VMRepository(db)
    vm = await repo.create(fields("web-01"))
    with pytest.raises(NameConflict):
        await repo.create(fields("WEB-01"))
    assert await db.vms.count_documents({}) == 1
    assert [e.revision for e in await repo.list_events(vm.id, 10)] == [1]
