"""Migration 0009 (soft delete) on a database seeded in the old shape: up keeps every VM live,
makes names unique among live VMs only and adds the TTL index; down refuses, changing nothing,
while deleted VMs exist (naming those sharing a name), and rolls back cleanly once none does."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError, WriteError

from service.domain.errors import NameConflict
from service.domain.listing import ListParams, PageTokens, compile_query
from service.storage.migrations import failure
from service.storage.migrations.runner import HISTORY, MigrationFailed, Migrator
from service.storage.vms import VMRepository
from tests.api.listing_data import vm_doc
from tests.integration.test_repository_contract import fields
from tests.unit.fake_repository import event

Db = AsyncDatabase[dict[str, Any]]
OLD = 8  # the version before soft delete
SOFT_DELETE = 9  # (0010, projects, has tests of its own: test_migration_projects)


@pytest.fixture
async def old_db(mongo_client: AsyncMongoClient[dict[str, Any]]) -> AsyncIterator[Db]:
    """A database at version 8 holding VMs (and their events) in the shape that version wrote."""
    name = f"mig_sd_{uuid.uuid4().hex[:10]}"
    db = mongo_client[name]
    assert await Migrator(db).up(to=OLD) == list(range(1, OLD + 1))
    docs = [vm_doc(i, revision=1) for i in range(30)]
    await db.vms.insert_many([{k: v for k, v in d.items() if k != "project"} for d in docs])
    yield db
    await mongo_client.drop_database(name)


async def indexes(db: Db) -> dict[str, dict[str, Any]]:
    return dict(await db.vms.index_information())


async def test_up_keeps_every_vm_live_and_frees_the_names_of_deleted_ones(old_db: Db) -> None:
    before = await old_db.vms.find({}, sort=[("_id", 1)]).to_list()
    assert await Migrator(old_db).up(to=SOFT_DELETE) == [9]
    found = await indexes(old_db)
    assert "name_unique_ci" not in found
    live = found["name_unique_live"]
    assert (live["unique"], live["partialFilterExpression"]) == (True, {"deleted_at": None})
    assert (live["collation"]["locale"], live["collation"]["strength"]) == ("en", 2)
    assert found["purge_at_ttl"]["expireAfterSeconds"] == 0
    assert await old_db.vms.find({}, sort=[("_id", 1)]).to_list() == before  # no backfill

    # What today's repository reads: VMs in projects (0010, and any later versions).
    assert (await Migrator(old_db).up())[0] == 10
    repo = VMRepository(old_db)
    page = await repo.list(compile_query(ListParams(page_size=100), PageTokens(b"k")))
    assert len(page) == len(before)  # every old VM is live
    old = page[0]
    with pytest.raises(NameConflict):  # live names stay unique, ignoring case
        await repo.create(fields(old.name.upper()))
    await repo.delete(old.id, 1, event(2, "deleted"))
    reuse = await repo.create(fields(old.name.upper()))  # free while deleted
    with pytest.raises(NameConflict) as taken:
        await repo.restore(old.id, 2, event(3, "restored"))
    assert taken.value.extra["holder_id"] == reuse.id
    # The validator takes deletion times as dates only.
    with pytest.raises(WriteError):
        await old_db.vms.insert_one({**fields("bad-01"), "deleted_at": "yesterday"})


async def test_down_refuses_while_deleted_vms_exist_and_names_the_shared_names(
    old_db: Db,
) -> None:
    migrator = Migrator(old_db)
    await migrator.up(to=SOFT_DELETE)
    repo = VMRepository(old_db)
    first = await repo.create(fields("shared-01"))
    await repo.delete(first.id, 1, event(2, "deleted"))
    second = await repo.create(fields("SHARED-01"))  # the same name, live
    alone = await repo.create(fields("alone-01"))
    await repo.delete(alone.id, 1, event(2, "deleted"))
    shape = await failure.shape(old_db)
    documents = await old_db.vms.count_documents({})

    with pytest.raises(MigrationFailed) as refused:
        await migrator.down(to=OLD)
    message = str(refused.value)
    assert "2 soft-deleted VM(s) exist" in message
    assert "'shared-01'" in message or "'SHARED-01'" in message
    assert f"{first.id} (deleted)" in message
    assert f"{second.id} (live)" in message
    assert alone.id not in message  # its name is its own
    assert "?purge=true" in message and "/restore" in message
    assert "no collection, validator or index change" in message  # refused before any
    # Nothing changed: indexes, validator, documents and history as they were.
    assert await failure.shape(old_db) == shape
    assert await old_db.vms.count_documents({}) == documents
    assert (await migrator.status()).current == 9

    # Once no deleted VM is left (one purged, one restored under a new name), down runs.
    await repo.purge(first.id, 2, event(3, "purged"))
    await repo.restore(alone.id, 2, event(3, "restored"))
    assert await migrator.down(to=OLD) == [9]
    found = await indexes(old_db)
    assert "name_unique_live" not in found and "purge_at_ttl" not in found
    assert found["name_unique_ci"]["unique"] is True
    assert "partialFilterExpression" not in found["name_unique_ci"]
    with pytest.raises(DuplicateKeyError):  # old shape again: names unique among all VMs
        await old_db.vms.insert_one(fields("ALONE-01"))
    (info,) = await (await old_db.list_collections(filter={"name": "vms"})).to_list()
    properties = info["options"]["validator"]["$jsonSchema"]["properties"]
    assert "deleted_at" not in properties and "created_by" in properties
    assert await old_db[HISTORY].count_documents({"_id": 9}) == 0
    # The history in actions the older code reads, the new ones kept for the way back up.
    older = {e["action"] async for e in old_db.vm_events.find({})}
    assert older <= {"created", "updated", "status_changed", "deleted"}
    renamed = await old_db.vm_events.find({"soft_delete_action": {"$exists": True}}).to_list()
    assert sorted((e["soft_delete_action"], e["action"]) for e in renamed) == [
        ("purged", "deleted"), ("restored", "updated"),
    ]  # fmt: skip
    assert await migrator.up(to=SOFT_DELETE) == [9]  # and up again, with the history as it was
    history = [e.action.value for e in await repo.list_events(first.id, 10)]
    assert history == ["purged", "deleted", "created"]
    assert (await repo.list_events(alone.id, 1))[0].action.value == "restored"
    assert await old_db.vm_events.count_documents({"soft_delete_action": {"$exists": True}}) == 0


@pytest.mark.usefixtures("db")  # the session's TTL monitor runs every second
async def test_a_purge_at_in_the_past_is_removed_by_mongodb(old_db: Db) -> None:
    await Migrator(old_db).up()
    repo = VMRepository(old_db)
    vm = await repo.create(fields("expired-01"))
    past = datetime.now(UTC) - timedelta(seconds=1)
    await repo.delete(vm.id, 1, {**event(2, "deleted"), "purge_at": past})
    # The TTL monitor (every second in the test session) removes it; bounded wait, no timing.
    for _ in range(600):
        if await old_db.vms.count_documents({"name": "expired-01"}) == 0:
            break
        await asyncio.sleep(0.1)
    assert await old_db.vms.count_documents({"name": "expired-01"}) == 0
    history = await repo.list_events(vm.id, 10)
    assert [e.action.value for e in history] == ["purged", "deleted", "created"]
