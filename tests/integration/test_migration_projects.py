"""Migration 0010 (projects) on a database seeded at 0009 in the old shape (VMs and events
without `project`, some VMs soft-deleted): up puts everything in `default` and counts its usage
from the live VMs, names become unique per project; down refuses, changing nothing, while another
project or a restricted key exists, and otherwise returns to the old shape; up again works."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from bson import ObjectId
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from service.domain.apikeys import Scope
from service.domain.errors import NameConflict
from service.domain.projects import DEFAULT_PROJECT, RESOURCES, ProjectCreate, Quota, Usage
from service.domain.rules import utcnow
from service.domain.vms import arrival
from service.storage.api_keys import ApiKeyRepository
from service.storage.migrations import failure
from service.storage.migrations.runner import HISTORY, MigrationFailed, Migrator
from service.storage.migrations.scripts import discover
from service.storage.projects import ProjectRepository
from service.storage.usage import SHARDS
from service.storage.vms import VMRepository
from tests.api.listing_data import vm_doc
from tests.integration.test_repository_contract import fields

Db = AsyncDatabase[dict[str, Any]]
OLD = 9  # the version before projects
COUNT = 40
PROJECT_INDEXES = {"project_name_unique_live"} | {
    f"project_{k}_id" for k in ("created_at", "name_key", "cpu_cores", "memory_mib", "storage_gib")
}


def deleted(i: int) -> bool:
    """Which seeded VMs are soft-deleted (still restorable)."""
    return i % 3 == 0


def old_vm(i: int) -> dict[str, Any]:
    """A VM as version 9 stored it: no `project`; every third one deleted."""
    doc = {k: v for k, v in vm_doc(i, revision=2).items() if k != "project"}
    if deleted(i):
        now = datetime.now(UTC)
        doc.update(deleted_at=now, purge_at=now + timedelta(days=30))
    return doc


def old_event(vm: dict[str, Any]) -> dict[str, Any]:
    """A VM's history as version 9 stored it: no `project`."""
    return {
        "_id": ObjectId(), "vm_id": vm["_id"], "revision": 1, "action": "created",
        "changes": {"name": {"before": None, "after": vm["name"]}}, "actor": "seed",
        "request_id": "seed", "timestamp": vm["created_at"],
    }  # fmt: skip


def live_usage(vms: list[dict[str, Any]]) -> Usage:
    """What the live VMs among `vms` use, counted here."""
    live = [v for v in vms if "deleted_at" not in v]
    return Usage(vms=len(live), **{r: sum(v[r] for v in live) for r in RESOURCES[1:]})


@pytest.fixture
async def old_db(mongo_client: AsyncMongoClient[dict[str, Any]]) -> AsyncIterator[Db]:
    """A database at version 9 holding VMs (live and deleted) and events without projects; a
    deleted VM shares a live one's name (in another case), as version 9 allows."""
    name = f"mig_pr_{uuid.uuid4().hex[:10]}"
    db = mongo_client[name]
    assert await Migrator(db).up(to=OLD) == list(range(1, OLD + 1))
    vms = [old_vm(i) for i in range(COUNT)]
    vms[3]["name"] = vms[1]["name"].upper()  # 3 is deleted, 1 live
    vms[3].update({"name_key": vms[3]["name"].lower()})
    await db.vms.insert_many(vms)
    await db.vm_events.insert_many([old_event(v) for v in vms])
    yield db
    await mongo_client.drop_database(name)


async def usage_of_default(db: Db) -> Usage:
    return (await ProjectRepository(db).ledger.usage([DEFAULT_PROJECT]))[DEFAULT_PROJECT]


async def assert_migrated(db: Db, seeded: list[dict[str, Any]]) -> None:
    """Every VM and event in `default`; its usage counted from the live VMs; per-project names."""
    assert await db.vms.count_documents({}) == COUNT
    assert await db.vms.distinct("project") == [DEFAULT_PROJECT]
    assert await db.vm_events.count_documents({"project": {"$ne": DEFAULT_PROJECT}}) == 0
    default = await ProjectRepository(db).get(DEFAULT_PROJECT)
    assert default.quota == Quota()  # no limits
    expected = live_usage(seeded)
    assert expected.vms == COUNT - len([i for i in range(COUNT) if deleted(i)])
    assert default.usage == expected  # the deleted VMs use nothing
    assert (await ProjectRepository(db).counted())[DEFAULT_PROJECT] == expected
    assert await db.project_usage.count_documents({"project": DEFAULT_PROJECT}) == SHARDS
    indexes = await db.vms.index_information()
    assert indexes.keys() >= PROJECT_INDEXES
    assert "name_unique_live" not in indexes
    names = indexes["project_name_unique_live"]
    assert names["key"] == [("project", 1), ("name", 1)]
    assert (names["unique"], names["partialFilterExpression"]) == (True, {"deleted_at": None})
    assert (names["collation"]["locale"], names["collation"]["strength"]) == ("en", 2)


async def test_up_puts_everything_in_default_and_counts_its_usage_from_live_vms(
    old_db: Db,
) -> None:
    seeded = await old_db.vms.find({}, sort=[("_id", 1)]).to_list()
    assert (await Migrator(old_db).up())[0] == 10
    await assert_migrated(old_db, seeded)

    # The same name is allowed in two projects, and still unique ignoring case in each.
    projects = ProjectRepository(old_db)
    await projects.create(ProjectCreate(name="team-a"), utcnow())
    repo = VMRepository(old_db)
    taken = seeded[1]["name"]
    twin = fields(taken.upper(), project="team-a")
    in_a = await repo.create(twin, None, arrival(twin))
    assert (in_a.project, in_a.name) == ("team-a", taken.upper())
    again = fields(taken.lower(), project="team-a")
    with pytest.raises(NameConflict) as conflict:
        await repo.create(again, None, arrival(again))
    assert conflict.value.extra["holder_id"] == in_a.id
    with pytest.raises(NameConflict) as conflict:
        await repo.create(fields(taken.lower()), None, arrival(fields(taken.lower())))
    assert conflict.value.extra["holder_id"] == str(seeded[1]["_id"])
    copy = {**seeded[1], "_id": ObjectId(), "project": DEFAULT_PROJECT, "name": taken.title()}
    with pytest.raises(DuplicateKeyError):  # the index itself, not only the repository
        await old_db.vms.insert_one(copy)
    usage = await projects.ledger.usage([DEFAULT_PROJECT, "team-a"])
    assert usage["team-a"] == Usage(vms=1, cpu_cores=2, memory_mib=4096, storage_gib=40)
    assert usage[DEFAULT_PROJECT] == live_usage(seeded)  # the refused creates charged nothing


async def test_up_again_over_a_migrated_database_changes_nothing(old_db: Db) -> None:
    seeded = await old_db.vms.find({}, sort=[("_id", 1)]).to_list()
    assert (await Migrator(old_db).up())[0] == 10
    before = await failure.shape(old_db)
    # As a retry after a crash partway would: the script's steps each run again.
    (script,) = [s for s in discover()[0] if s.version == 10]
    await script.load().up(old_db, None)
    assert await failure.shape(old_db) == before
    await assert_migrated(old_db, seeded)  # usage counted once, not twice


async def test_down_refuses_while_another_project_or_a_restricted_key_exists(old_db: Db) -> None:
    migrator = Migrator(old_db)
    await migrator.up(to=OLD + 1)  # (the later versions would roll back before it refuses)
    projects, keys = ProjectRepository(old_db), ApiKeyRepository(old_db)
    await projects.create(ProjectCreate(name="team-b", quota=Quota(vms=5)), utcnow())
    await keys.create("team-b-reader", Scope.READ, ["team-b"])
    await keys.create("default-writer", Scope.WRITE, [DEFAULT_PROJECT])
    await keys.create("everything", Scope.ADMIN)  # unrestricted: no obstacle

    async def assert_refused(*named: str) -> None:
        shape = await failure.shape(old_db)
        documents = {
            c: await old_db[c].find({}, sort=[("_id", 1)]).to_list()
            for c in ("vms", "vm_events", "projects", "project_usage", "api_keys")
        }
        with pytest.raises(MigrationFailed) as refused:
            await migrator.down(to=OLD)
        message = str(refused.value)
        assert refused.value.version == 10
        for name in named:
            assert name in message
        assert "everything" not in message
        # Nothing changed: indexes, validators, documents and history as they were.
        assert await failure.shape(old_db) == shape
        for collection, docs in documents.items():
            assert await old_db[collection].find({}, sort=[("_id", 1)]).to_list() == docs
        assert (await migrator.status()).current == 10

    await assert_refused("team-b", "team-b-reader", "default-writer")
    await keys.revoke("team-b-reader")
    await keys.revoke("default-writer")
    await assert_refused("team-b")
    await projects.delete("team-b", 1)
    await keys.create("default-reader", Scope.READ, [DEFAULT_PROJECT])
    await assert_refused("default-reader")  # a key restricted to `default` alone is too
    await keys.revoke("default-reader")
    assert (await migrator.down(to=OLD))[-1] == 10


async def test_down_returns_to_the_old_shape_and_up_again_works(old_db: Db) -> None:
    seeded = await old_db.vms.find({}, sort=[("_id", 1)]).to_list()
    old_shape = await failure.shape(old_db)
    migrator = Migrator(old_db)
    assert (await migrator.up())[0] == 10
    repo = VMRepository(old_db)
    new = fields("made-in-10")
    made = await repo.create(new, None, arrival(new))
    await repo.update(made.id, 1, {"os": "debian-12"}, updated_event(2))

    assert (await migrator.down(to=OLD))[-1] == 10
    assert await failure.shape(old_db) == old_shape  # validator and indexes as 0009 left them
    assert "projects" not in await old_db.list_collection_names()
    assert "project_usage" not in await old_db.list_collection_names()
    assert await old_db.vms.count_documents({"project": {"$exists": True}}) == 0
    assert await old_db.vm_events.count_documents({"project": {"$exists": True}}) == 0
    assert await old_db.vm_events.count_documents({"changes.project": {"$exists": True}}) == 0
    assert await old_db[HISTORY].count_documents({"_id": 10}) == 0
    # Old shape again: live names unique across every VM, ignoring case.
    await old_db.vms.insert_one({**seeded[1], "_id": ObjectId(), "name": "x", "name_key": "x"})
    with pytest.raises(DuplicateKeyError):
        await old_db.vms.insert_one({**seeded[1], "_id": ObjectId(), "name": "X", "name_key": "x"})

    await old_db.vms.delete_many({"name": "x"})
    assert (await migrator.up())[0] == 10
    expected = live_usage([*seeded, {**new, "_id": ObjectId(made.id)}])
    assert await usage_of_default(old_db) == expected
    assert (await ProjectRepository(old_db).counted())[DEFAULT_PROJECT] == expected
    assert await old_db.vms.distinct("project") == [DEFAULT_PROJECT]
    assert [e.project for e in await repo.list_events(made.id, 10)] == [DEFAULT_PROJECT] * 2


def updated_event(revision: int) -> dict[str, Any]:
    """An `updated` event of the shape the service writes."""
    return {
        "project": DEFAULT_PROJECT, "revision": revision, "action": "updated", "changes": {},
        "actor": "t", "request_id": "r", "timestamp": utcnow(),
    }  # fmt: skip
