"""The search-key backfill and the listing indexes: up, down, idempotence, on old-shape VMs."""

from __future__ import annotations

import importlib.util
import ipaddress
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from bson import ObjectId
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

import service.storage.migrations
from service.domain.listing import search_keys

Raw = dict[str, Any]
SCRIPTS = Path(service.storage.migrations.__file__).parent


def script(suffix: str) -> ModuleType:
    """Load the migration script whose name ends with `suffix` (its number may change)."""
    (path,) = SCRIPTS.glob(f"[0-9][0-9][0-9][0-9]_{suffix}.py")
    spec = importlib.util.spec_from_file_location(f"_test_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
async def old_db(mongo_client: AsyncMongoClient[Raw]) -> AsyncIterator[AsyncDatabase[Raw]]:
    """A database at the first schema version, with VMs written before the search keys."""
    name = f"test_backfill_{uuid.uuid4().hex[:8]}"
    database = mongo_client[name]
    await script("create_vms").up(database, None)
    yield database
    await mongo_client.drop_database(name)


IPS = ["10.0.0.10", "10.0.0.9", "9.255.255.255", "255.255.255.255", "::1", "2001:db8::a", None]


def old_vm(i: int, ip: str | None) -> Raw:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    return {
        "_id": ObjectId(), "name": f"Old-VM-{i}", "status": "running", "os": "debian-12",
        "cpu_cores": 2, "memory_mib": 2048, "storage_gib": 20, "ip_address": ip,
        "labels": {"env": "prod", "team": str(i)} if i % 2 else {}, "description": "",
        "revision": 3, "created_at": now, "updated_at": now,
    }  # fmt: skip


async def test_backfill_sets_the_keys_the_write_path_sets(old_db: AsyncDatabase[Raw]) -> None:
    docs = [old_vm(i, ip) for i, ip in enumerate(IPS)]
    await old_db.vms.insert_many(docs)
    backfill = script("add_search_keys")
    await backfill.up(old_db, None)
    await backfill.up(old_db, None)  # idempotent
    for doc in docs:
        stored = await old_db.vms.find_one({"_id": doc["_id"]})
        assert stored is not None
        expected = {k: v for k, v in search_keys(doc).items() if k in backfill.KEYS}
        assert {k: stored[k] for k in expected} == expected
        assert stored["revision"] == 3  # a backfill is not a change of the VM
    ordered = [
        d["ip_address"] async for d in old_db.vms.find({"ip_key": {"$ne": None}}).sort("ip_key")
    ]
    v4 = sorted((ip for ip in IPS if ip and "." in ip), key=ipaddress.ip_address)
    v6 = sorted((ip for ip in IPS if ip and ":" in ip), key=ipaddress.ip_address)
    assert ordered == v4 + v6  # numeric order, IPv4 before IPv6
    await backfill.down(old_db, None)
    stored = await old_db.vms.find_one({"ip_address": "::1"})
    assert stored is not None
    assert not {"name_key", "label_terms", "ip_key"} & set(stored)
    assert stored["name"] == "Old-VM-4"


async def test_index_migration_up_down_up(old_db: AsyncDatabase[Raw]) -> None:
    indexes = script("create_list_indexes")
    before = set(await old_db.vms.index_information())
    await indexes.up(old_db, None)
    await indexes.up(old_db, None)  # idempotent
    created = set(await old_db.vms.index_information()) - before
    assert {
        "status_created_at_id",
        "label_terms_name_key_id",
        "ip_key_id",
        "cpu_cores_id",
    } <= created
    await indexes.down(old_db, None)
    await indexes.down(old_db, None)  # idempotent
    assert set(await old_db.vms.index_information()) == before
