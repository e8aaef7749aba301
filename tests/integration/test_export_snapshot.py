"""ExportVMs reads one snapshot: VMs moved across the walk by writes appear exactly once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from bson import ObjectId
from pymongo.asynchronous.database import AsyncDatabase

from service.config import Settings
from service.domain.errors import DatabaseUnavailable
from service.domain.listing import ListParams, PageTokens, SortOrder, compile_query, search_keys
from service.storage.bulk import EXPORT_BATCH_SIZE, BulkVMRepository
from service.storage.client import make_client
from service.storage.stored import stored_vm

pytestmark = pytest.mark.usefixtures("clean")
Db = AsyncDatabase[dict[str, Any]]
COUNT = 2 * EXPORT_BATCH_SIZE + 500


def _doc(i: int, now: datetime) -> dict[str, Any]:
    fields = {
        "name": f"vm-{i:05d}", "project": "default", "status": "stopped", "os": "debian-12",
        "cpu_cores": 1,
        "memory_mib": 512, "storage_gib": 10, "ip_address": None, "labels": {},
        "description": "", "revision": 1, "created_at": now + timedelta(seconds=i),
        "updated_at": now, "created_by": "seed", "created_request_id": f"seed-{i}",
    }  # fmt: skip
    return {"_id": ObjectId(), **stored_vm({**fields, **search_keys(fields)})}


async def _open_cursors(db: Db) -> int:
    status = await db.client.admin.command("serverStatus")
    return int(status["metrics"]["cursor"]["open"]["total"])


@pytest.mark.parametrize("sort", [SortOrder.NAME, SortOrder.CREATED_AT_DESC])
async def test_writes_during_an_export_do_not_move_vms_in_or_out(db: Db, sort: SortOrder) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    await db.vms.insert_many([_doc(i, now) for i in range(COUNT)])
    repo = BulkVMRepository(db)
    batches = repo.export(compile_query(ListParams(sort=sort), PageTokens()))
    seen = [vm.id for vm in await anext(batches)]
    # Move the VMs already read behind the walk, the ones not read yet ahead of it, delete some
    # unread ones and add new ones: the snapshot sees none of it.
    first = seen[:200]
    await db.vms.update_many(
        {"_id": {"$in": [ObjectId(i) for i in first]}},
        [{"$set": {"name_key": {"$concat": ["zz-", "$name_key"]},
                   "created_at": {"$add": ["$created_at", -10**9]}}}],
    )  # fmt: skip
    unread = [d["_id"] async for d in db.vms.find({"_id": {"$nin": [ObjectId(i) for i in seen]}})]
    await db.vms.update_many(
        {"_id": {"$in": unread[:200]}},
        [{"$set": {"name_key": {"$concat": ["a-", "$name_key"]},
                   "created_at": {"$add": ["$created_at", 10**9]}}}],
    )  # fmt: skip
    await db.vms.delete_many({"_id": {"$in": unread[200:300]}})
    await db.vms.insert_many([_doc(COUNT + i, now) for i in range(100)])
    async for batch in batches:
        seen += [vm.id for vm in batch]
    assert len(seen) == len(set(seen)) == COUNT


async def test_closing_an_export_early_closes_its_cursor(db: Db) -> None:
    now = datetime.now(UTC)
    await db.vms.insert_many([_doc(i, now) for i in range(COUNT)])
    before = await _open_cursors(db)
    batches = BulkVMRepository(db).export(
        compile_query(ListParams(sort=SortOrder.NAME), PageTokens())
    )
    await anext(batches)
    assert await _open_cursors(db) == before + 1
    await batches.aclose()  # what the HTTP stream does when the client goes away
    # The driver cannot kill a snapshot session's cursor inline and kills it from its background
    # task instead (within a second); the deadline only keeps a broken close from hanging.
    async with asyncio.timeout(60):
        while await _open_cursors(db) != before:  # noqa: ASYNC110 - the server's state, polled
            await asyncio.sleep(0.1)


async def test_an_export_outlasts_the_per_call_timeout(db: Db, settings: Settings) -> None:
    """MONGODB_TIMEOUT_MS bounds each read of an export, not the cursor's whole server time."""
    now = datetime.now(UTC)
    total = 100_000
    for first in range(0, total, 20_000):
        await db.vms.insert_many([_doc(i, now) for i in range(first, first + 20_000)])
    quick = settings.model_copy(update={"mongodb_timeout_ms": 100})
    client = make_client(str(settings.mongodb_url), quick)
    try:
        repo = BulkVMRepository(client[settings.mongodb_db])
        query = compile_query(ListParams(sort=SortOrder.NAME), PageTokens())

        async def export_all() -> int | None:
            exported = 0
            try:
                async for batch in repo.export(query):
                    exported += len(batch)
            except DatabaseUnavailable:
                if exported:
                    raise  # a later read cut the export short: what this test is about
                return None  # the first read's own 100 ms bound, passed on a loaded machine
            return exported

        for _ in range(5):
            if (exported := await export_all()) is not None:
                break
        assert exported == total
    finally:
        await client.close()
