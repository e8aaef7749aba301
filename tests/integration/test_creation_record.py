"""On real MongoDB: a create commits the VM with its project's usage change in one transaction
and writes no event (its `created` event is derived from the VM); the first later write records
the derived `created` event atomically with its own change; rolling migration 0007 back writes
every derived event into `vm_events`."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest
from bson import ObjectId
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.monitoring import CommandListener, CommandStartedEvent

from service.domain.errors import WriteContention
from service.domain.events import WriteContext, creation_record
from service.domain.projects import DEFAULT_PROJECT, Usage, change, usage_of
from service.domain.schemas import VMEvent
from service.domain.vms import arrival
from service.storage.history import to_event
from service.storage.migrations.runner import Migrator
from service.storage.vms import VMRepository
from tests.unit.fake_repository import event

Db = AsyncDatabase[dict[str, Any]]
WRITES = {"insert", "update", "delete", "findAndModify", "commitTransaction", "abortTransaction"}


def fields(name: str = "web-01") -> dict[str, Any]:
    now = datetime.now(UTC).replace(microsecond=0)
    return {
        "name": name, "project": DEFAULT_PROJECT, "status": "provisioning", "os": "ubuntu-24.04",
        "cpu_cores": 2,
        "memory_mib": 4096, "storage_gib": 40, "ip_address": "10.0.0.9",
        "labels": {"env": "dev"}, "description": "", "revision": 1, "created_at": now,
        "updated_at": now, **creation_record(WriteContext("alice", f"req-{name}")),
    }  # fmt: skip


def without_project(e: VMEvent) -> VMEvent:
    """The event as the schema before 0010 holds it: no `project` among its changes."""
    changes = {f: c for f, c in e.changes.items() if f != "project"}
    return msgspec.structs.replace(e, changes=changes)


class Commands(CommandListener):
    """The names of the commands a client sent."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def started(self, event: CommandStartedEvent) -> None:
        self.names.append(event.command_name)

    def succeeded(self, event: Any) -> None:
        pass

    def failed(self, event: Any) -> None:
        pass


@pytest.fixture
async def fresh_db(
    mongo_client: AsyncMongoClient[dict[str, Any]],
) -> AsyncIterator[Db]:
    """A migrated database of the test's own, dropped afterwards."""
    name = f"rec_{uuid.uuid4().hex[:10]}"
    await Migrator(mongo_client[name]).up()
    yield mongo_client[name]
    await mongo_client.drop_database(name)


@pytest.mark.usefixtures("clean")
async def test_a_create_commits_its_usage_change_with_it_and_writes_no_event(
    settings: Any, db: Db
) -> None:
    listener = Commands()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        settings.mongodb_url, tz_aware=True, w="majority", event_listeners=[listener]
    )
    try:
        repo = VMRepository(client[settings.mongodb_db])
        new = fields()
        vm = await repo.create(new, None, arrival(new))  # as VMService.create_vm calls it
        # The VM and one usage shard's charge, committed together (so usage always equals a
        # recount of the live VMs); no event document: the `created` event is derived.
        assert [n for n in listener.names if n in WRITES] == [
            "insert", "update", "commitTransaction"
        ]  # fmt: skip
        assert await db.vm_events.count_documents({}) == 0
        used = await repo.ledger.usage([DEFAULT_PROJECT])
        assert used[DEFAULT_PROJECT] == Usage(vms=1, cpu_cores=2, memory_mib=4096, storage_gib=40)
        history = await repo.list_events(vm.id, 10)
        assert [(e.id, e.revision, e.actor, e.request_id) for e in history] == [
            (vm.id, 1, "alice", "req-web-01")
        ]
        listener.names.clear()
        await repo.update(vm.id, 1, {"os": "debian-12"}, event(2))
        # The first later write: one compare-and-set, both events kept in the VM with it.
        assert [n for n in listener.names if n in WRITES] == ["findAndModify"]
        listener.names.clear()
        resized = change(DEFAULT_PROJECT, usage_of(new), usage_of({**new, "cpu_cores": 4}))
        await repo.update(vm.id, 2, {"cpu_cores": 4}, event(3), None, resized)
        # A resize charges the project in a transaction, which moves both events with its own.
        writes = [n for n in listener.names if n in WRITES]
        assert writes == ["findAndModify", "insert", "update", "commitTransaction"]
        assert await db.vm_events.count_documents({}) == 3
        history = await repo.list_events(vm.id, 10)
        assert [(e.revision, e.actor) for e in history] == [(3, "test"), (2, "test"), (1, "alice")]
    finally:
        await client.close()


@pytest.mark.usefixtures("clean")
async def test_a_first_write_whose_event_is_refused_records_no_created_event(db: Db) -> None:
    """The writes that record in `vm_events` (a transaction's: here a resize and a delete)."""
    repo = VMRepository(db)
    new = fields()
    vm = await repo.create(new)
    derived = await repo.list_events(vm.id, 10)
    await db.vm_events.insert_one({**event(2), "vm_id": ObjectId(vm.id)})  # revision 2 taken
    resized = change(DEFAULT_PROJECT, usage_of(new), usage_of({**new, "cpu_cores": 4}))
    for write in (
        lambda: repo.update(vm.id, 1, {"cpu_cores": 4}, event(2), None, resized),
        lambda: repo.delete(vm.id, 1, event(2, "deleted")),
    ):
        with pytest.raises(WriteContention):
            await write()
        assert await db.vm_events.count_documents({"revision": 1}) == 0
        assert (await repo.get_by_id(vm.id)).cpu_cores == 2
        assert (await repo.list_events(vm.id, 10))[-1] == derived[-1]


async def test_rolling_back_0007_writes_the_derived_events_and_up_again_keeps_them(
    fresh_db: Db,
) -> None:
    repo = VMRepository(fresh_db)
    pending = [await repo.create(fields(f"vm-{i}")) for i in range(3)]
    written = await repo.create(fields("written"))
    await repo.update(written.id, 1, {"os": "debian-12"}, event(2))
    # The shape before 0010 has no projects: a `created` event records no `project` change.
    before = {
        vm.id: [without_project(e) for e in await repo.list_events(vm.id, 10)]
        for vm in [*pending, written]
    }

    migrator = Migrator(fresh_db)
    # 0010 (projects), 0009 (soft delete), 0008 (change images) first
    assert (await migrator.down(to=6))[-4:] == [10, 9, 8, 7]
    assert await fresh_db.vms.count_documents({"created_by": {"$exists": True}}) == 0
    assert await fresh_db.vm_events.count_documents({"action": "created"}) == 4
    for vm_id, events in before.items():  # read as the code before 0007 reads: vm_events alone
        docs = fresh_db.vm_events.find({"vm_id": ObjectId(vm_id)}).sort("revision", -1)
        stored = await docs.to_list()
        assert not any("project" in d or "project" in d["changes"] for d in stored)
        assert [to_event({**d, "project": DEFAULT_PROJECT}) for d in stored] == events

    assert (await migrator.up())[:4] == [7, 8, 9, 10]
    for vm_id, events in before.items():
        assert await repo.list_events(vm_id, 10) == events
    await repo.update(pending[0].id, 1, {"os": "debian-12"}, event(2))  # no duplicate refused
    assert [e.revision for e in await repo.list_events(pending[0].id, 10)] == [2, 1]
