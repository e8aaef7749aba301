"""The migration runner and the schema scripts against real MongoDB."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pymongo import AsyncMongoClient, MongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import WriteError

from service.__main__ import main
from service.storage.migrations.lock import LockBusy
from service.storage.migrations.runner import HISTORY, MigrationRefused, Migrator
from service.storage.migrations.scripts import SCRIPTS_DIR, discover

PROJECT_NAME = [("project", 1), ("name", 1)]


async def vms_shape(db: AsyncDatabase[dict[str, Any]]) -> dict[str, Any] | None:
    """The validator and indexes of `vms`, or None when it does not exist."""
    infos = await (await db.list_collections(filter={"name": "vms"})).to_list()
    if not infos:
        return None
    indexes = await db.vms.index_information()
    return {
        "validator": infos[0]["options"].get("validator"),
        "indexes": {
            name: (i["key"], i.get("unique", False), i.get("collation", {}).get("strength"))
            for name, i in indexes.items()
        },
    }


async def test_up_down_up_from_an_empty_database(fresh_db: AsyncDatabase[dict[str, Any]]) -> None:
    migrator = Migrator(fresh_db)
    versions = [s.version for s in discover(SCRIPTS_DIR)[0]]
    assert versions == list(range(1, len(versions) + 1))
    assert [e.state for e in (await migrator.status()).entries] == ["pending"] * len(versions)

    for _round in range(2):
        assert await migrator.up() == versions
        shape = await vms_shape(fresh_db)
        assert shape is not None
        schema = shape["validator"]["$jsonSchema"]
        assert schema["properties"]["cpu_cores"]["bsonType"] == ["int", "long"]
        assert {"name", "status", "cpu_cores", "memory_mib", "revision"} <= set(schema["required"])
        assert shape["indexes"]["project_name_unique_live"] == (PROJECT_NAME, True, 2)
        assert "name_unique_live" not in shape["indexes"]  # names are unique per project
        assert shape["indexes"]["created_at_id"] == ([("created_at", -1), ("_id", -1)], False, None)
        history = await fresh_db[HISTORY].find().sort("_id").to_list()
        assert [h["_id"] for h in history] == versions
        assert history[0]["name"] == "0001_create_vms"
        assert len(history[0]["checksum"]) == 64
        assert history[0]["applied_at"] <= datetime.now(UTC)
        assert history[0]["duration_ms"] >= 0
        status = await migrator.status()
        assert (status.current, status.problems) == (versions[-1], [])
        assert await migrator.up() == []

        assert await migrator.down(to=0) == versions[::-1]
        assert await vms_shape(fresh_db) is None
        assert await fresh_db[HISTORY].count_documents({}) == 0
        assert (await migrator.status()).current == 0


async def test_validator_rejects_a_document_written_around_the_service(
    db: AsyncDatabase[dict[str, Any]],
) -> None:
    now = datetime.now(UTC)
    doc = {
        "name": f"direct-{uuid.uuid4().hex[:6]}",
        "project": "default",
        "status": "running",
        "os": "debian-12",
        "cpu_cores": "4",
        "memory_mib": 4096,
        "storage_gib": 40,
        "labels": {},
        "description": "",
        "revision": 1,
        "created_at": now,
        "updated_at": now,
    }
    for wrong in ({**doc}, {**doc, "cpu_cores": 4, "project": ""}):
        with pytest.raises(WriteError) as caught:
            await db.vms.insert_one(wrong)
        assert caught.value.code == 121  # DocumentValidationFailure
    without_project = {k: v for k, v in doc.items() if k != "project"}
    with pytest.raises(WriteError) as caught:
        await db.vms.insert_one({**without_project, "cpu_cores": 4})
    assert caught.value.code == 121
    assert await db.vms.count_documents({"name": doc["name"]}) == 0
    await db.vms.insert_one({**doc, "cpu_cores": 4})
    assert await db.vms.count_documents({"name": doc["name"]}) == 1
    await db.vms.delete_one({"name": doc["name"]})


def write_scripts(where: Path, scripts: dict[str, str]) -> Path:
    """A scripts directory holding `scripts` (file name -> body of up(); down() undoes nothing)."""
    where.mkdir(exist_ok=True)
    for name, body in scripts.items():
        (where / name).write_text(
            f'"""Test script {name}."""\n\nimport asyncio\n\n\n'
            f"async def up(db, session):\n{body}\n\n\n"
            "async def down(db, session):\n    pass\n"
        )
    return where


COUNTING = (
    "    await asyncio.sleep(0.2)\n"
    "    await db.runs.update_one({'_id': __name__}, {'$inc': {'n': 1}}, upsert=True,"
    " session=session)"
)


async def test_two_runners_at_once_apply_each_version_once(
    tmp_path: Path, mongo_client: AsyncMongoClient[dict[str, Any]], settings: Any
) -> None:
    scripts = write_scripts(tmp_path, {f"000{v}_count_runs.py": COUNTING for v in (1, 2, 3)})
    name = f"mig_{uuid.uuid4().hex[:10]}"
    other: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(settings.mongodb_url, tz_aware=True)
    try:
        runners = [
            Migrator(c[name], scripts, owner=f"runner-{i}")
            for i, c in enumerate((mongo_client, other))
        ]
        results = await asyncio.gather(*(r.up() for r in runners))
        db = mongo_client[name]
        assert sorted(results) == [[], [1, 2, 3]]
        assert [d["n"] for d in await db.runs.find().to_list()] == [1, 1, 1]
        history = await db[HISTORY].find().sort("_id").to_list()
        assert [h["_id"] for h in history] == [1, 2, 3]
        assert await db.schema_migrations_lock.count_documents({}) == 0  # released
    finally:
        await other.close()
        await mongo_client.drop_database(name)


async def test_a_held_lease_makes_the_second_runner_exit_and_a_dead_ones_expires(
    tmp_path: Path, fresh_db: AsyncDatabase[dict[str, Any]]
) -> None:
    scripts = write_scripts(tmp_path, {"0001_count_runs.py": COUNTING})
    lock = fresh_db.schema_migrations_lock
    await lock.insert_one(
        {"_id": "migrations", "owner": "host-a:4242:abc", "expires_at": datetime(2999, 1, 1)}
    )
    with pytest.raises(LockBusy, match="host-a:4242:abc"):
        await Migrator(fresh_db, scripts, wait_seconds=0.3).up()
    assert await fresh_db[HISTORY].count_documents({}) == 0

    await lock.update_one({}, {"$set": {"expires_at": datetime(2000, 1, 1)}})  # the holder died
    assert await Migrator(fresh_db, scripts, wait_seconds=0).up() == [1]
    assert await fresh_db.runs.count_documents({}) == 1


FAILING = (
    "    await db.things.insert_one({'_id': 2}, session=session)\n"
    "    await db.create_collection('other', session=session)\n"
    "    raise RuntimeError('halfway')"
)


def test_a_script_raising_halfway_leaves_nothing_and_exits_non_zero(
    tmp_path: Path,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    scripts = write_scripts(
        tmp_path,
        {
            "0001_create_things.py": "    await db.things.insert_one({'_id': 1}, session=session)",
            "0002_break_halfway.py": FAILING,
        },
    )
    name = f"mig_{uuid.uuid4().hex[:10]}"
    monkeypatch.setenv("MONGODB_URL", settings.mongodb_url)
    monkeypatch.setenv("MONGODB_DB", name)
    sync: MongoClient[dict[str, Any]] = MongoClient(settings.mongodb_url)
    try:
        assert main(["migrate", "up", "--scripts-dir", str(scripts)]) == 1
        err = capsys.readouterr().err
        assert "0002_break_halfway" in err
        assert "halfway" in err
        db = sync[name]
        assert [d["_id"] for d in db.things.find()] == [1]
        assert "other" not in db.list_collection_names()
        assert [h["_id"] for h in db[HISTORY].find()] == [1]

        assert main(["migrate", "status", "--scripts-dir", str(scripts)]) == 0
        out = capsys.readouterr().out
        assert "version 1 of 2 (1 pending)" in out
        assert "0002_break_halfway" in out
    finally:
        sync.drop_database(name)
        sync.close()


async def test_a_changed_or_missing_applied_script_is_refused(
    tmp_path: Path, fresh_db: AsyncDatabase[dict[str, Any]]
) -> None:
    scripts = write_scripts(
        tmp_path, {"0001_count_runs.py": COUNTING, "0002_count_runs.py": COUNTING}
    )
    migrator = Migrator(fresh_db, scripts)
    await migrator.up(to=1)
    first = scripts / "0001_count_runs.py"
    first.write_text(first.read_text() + "# edited after it was applied\n")
    with pytest.raises(MigrationRefused, match=r"0001_count_runs\.py changed after it was applied"):
        await migrator.up()
    with pytest.raises(MigrationRefused):
        await migrator.down(to=0)
    status = await migrator.status()
    assert [e.state for e in status.entries] == ["changed", "pending"]
    assert await fresh_db[HISTORY].count_documents({}) == 1

    first.unlink()
    with pytest.raises(
        MigrationRefused, match=r"version 0001 .* is applied but its script is missing"
    ):
        await migrator.up()
    assert await fresh_db.runs.count_documents({}) == 1


async def test_without_transactions_scripts_run_without_a_session(
    fresh_db: AsyncDatabase[dict[str, Any]],
) -> None:
    migrator = Migrator(fresh_db, transactions=False)  # as on a standalone mongod
    versions = [s.version for s in discover(SCRIPTS_DIR)[0]]
    assert await migrator.up() == versions
    shape = await vms_shape(fresh_db)
    assert shape is not None
    assert shape["indexes"]["project_name_unique_live"] == (PROJECT_NAME, True, 2)
    assert await migrator.down(to=0) == versions[::-1]
    assert await vms_shape(fresh_db) is None
    assert await fresh_db[HISTORY].count_documents({}) == 0


async def test_a_long_script_keeps_its_lease(
    tmp_path: Path, fresh_db: AsyncDatabase[dict[str, Any]]
) -> None:
    slow = "    await asyncio.sleep(3)\n    await db.runs.insert_one({'_id': 1}, session=session)"
    scripts = write_scripts(tmp_path, {"0001_sleep_long.py": slow})
    first = asyncio.create_task(Migrator(fresh_db, scripts, owner="long", lease_seconds=1).up())
    await asyncio.sleep(2)  # two lease lengths: only renewals keep the lock
    with pytest.raises(LockBusy, match="long"):
        await Migrator(fresh_db, scripts, wait_seconds=0).up()
    assert await first == [1]
    assert await fresh_db.runs.count_documents({}) == 1


async def test_a_pending_script_older_than_an_applied_one_is_refused_until_rolled_back(
    tmp_path: Path, fresh_db: AsyncDatabase[dict[str, Any]]
) -> None:
    scripts = write_scripts(tmp_path, {f"000{v}_count_runs.py": COUNTING for v in (1, 2, 3)})
    migrator = Migrator(fresh_db, scripts)
    await migrator.up()
    # As if 0002 had been merged after a database got 0003.
    await fresh_db[HISTORY].delete_one({"_id": 2})
    with pytest.raises(MigrationRefused, match=r"0002_count_runs is pending but .* 0003"):
        await migrator.up()
    assert await migrator.down(to=1) == [3]
    assert await migrator.up() == [2, 3]
    assert (await migrator.status()).problems == []
