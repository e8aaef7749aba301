"""The migration runner and the schema scripts against real MongoDB."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import WriteError

from service.migrations.runner import (
    HISTORY,
    SCRIPTS_DIR,
    Migrator,
    discover,
)


@pytest.fixture
async def fresh_db(
    mongo_client: AsyncMongoClient[dict[str, Any]],
) -> AsyncIterator[AsyncDatabase[dict[str, Any]]]:
    """An empty database of the test's own, dropped afterwards."""
    name = f"mig_{uuid.uuid4().hex[:10]}"
    yield mongo_client[name]
    await mongo_client.drop_database(name)


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
        assert shape["indexes"]["name_unique_ci"] == ([("name", 1)], True, 2)
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
    with pytest.raises(WriteError) as caught:
        await db.vms.insert_one(dict(doc))
    assert caught.value.code == 121  # DocumentValidationFailure
    assert await db.vms.count_documents({"name": doc["name"]}) == 0
    await db.vms.insert_one({**doc, "cpu_cores": 4})
    assert await db.vms.count_documents({"name": doc["name"]}) == 1
    await db.vms.delete_one({"name": doc["name"]})
