"""Migration 0011 (ip_nets) on VMs written in the shape before it: up backfills exactly what the
write path stores and builds the index, idempotently; down removes both; up again restores them;
ip_in then selects exactly the VMs inside each network."""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from service.domain.listing import ListParams, build_filter, search_keys
from service.storage.migrations.runner import Migrator
from tests.api.listing_data import vm_doc
from tests.integration.test_migration_search_keys import script

Db = AsyncDatabase[dict[str, Any]]
OLD = 10  # the version before ip_nets
INDEX = "ip_nets_created_at_id"
IPS = ["10.7.1.5", "10.7.200.1", "10.9.0.0", "192.168.0.1", "2001:db8:1:1::5", "::1", None]
NETWORKS = ["10.0.0.0/8", "10.7.0.0/16", "10.7.0.0/20", "10.7.1.0/24", "2001:db8:1::/48", "::/0"]


@pytest.fixture
async def old_db(mongo_client: AsyncMongoClient[dict[str, Any]]) -> AsyncIterator[Db]:
    """A database at version 10 holding VMs in the shape that version wrote (no ip_nets)."""
    name = f"mig_ipn_{uuid.uuid4().hex[:10]}"
    db = mongo_client[name]
    assert await Migrator(db).up(to=OLD) == list(range(1, OLD + 1))
    docs = [vm_doc(i, ip_address=IPS[i % len(IPS)]) for i in range(21)]
    for doc in docs:
        del doc["ip_nets"]
    await db.vms.insert_many(docs)
    yield db
    await mongo_client.drop_database(name)


async def assert_backfilled(db: Db) -> None:
    async for doc in db.vms.find({}):
        assert doc["ip_nets"] == search_keys({"ip_address": doc["ip_address"]})["ip_nets"]
    assert INDEX in await db.vms.index_information()
    for network in NETWORKS:
        net = ipaddress.ip_network(network)
        found = {d["_id"] async for d in db.vms.find(build_filter(ListParams(ip_in=network)))}
        inside = {
            d["_id"] async for d in db.vms.find({"ip_address": {"$ne": None}})
            if ipaddress.ip_address(d["ip_address"]) in net
        }  # fmt: skip
        assert found == inside and inside, network


async def test_up_down_up(old_db: Db) -> None:
    assert await Migrator(old_db).up(to=OLD + 1) == [OLD + 1]
    await assert_backfilled(old_db)
    before = await old_db.vms.find({}, sort=[("_id", 1)]).to_list()
    await script("add_ip_buckets").up(old_db, None)  # idempotent
    assert await old_db.vms.find({}, sort=[("_id", 1)]).to_list() == before

    assert await Migrator(old_db).down(to=OLD) == [OLD + 1]
    assert INDEX not in await old_db.vms.index_information()
    assert await old_db.vms.count_documents({"ip_nets": {"$exists": True}}) == 0
    await script("add_ip_buckets").down(old_db, None)  # idempotent

    assert await Migrator(old_db).up(to=OLD + 1) == [OLD + 1]
    await assert_backfilled(old_db)
