"""ListVMs with and without show_deleted on a collection holding deleted VMs: every filter under
every sort still runs on an index (the live condition `deleted_at: null` is a filter on the
fetched documents of the same index scan), the unfiltered and equality-filtered pages need no
blocking SORT, and counting the live VMs reads the TTL index of purge_at, not the collection."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from service.domain.listing import LIVE, PageTokens, SortOrder, compile_query
from service.storage.migrations.runner import upgrade
from service.storage.vms import DELETED_BY_PURGE_AT
from tests.api.listing_data import START, vm_doc
from tests.integration.test_list_indexes import (
    COUNT,
    EQUALITY,
    EQUALITY_FACTOR,
    LENIENT,
    PAGE,
    RANGES,
    explain_page,
    make,
)

Raw = dict[str, Any]


def deleted(i: int) -> bool:
    """About a quarter of the VMs are deleted, spread over every value of every field."""
    return i % 13 in (1, 6, 11)  # 13: prime to every period of vm_doc's fields


@pytest.fixture(scope="module")
async def mixed_db(mongo_client: AsyncMongoClient[Raw]) -> AsyncIterator[AsyncDatabase[Raw]]:
    """A database of its own, migrated, with COUNT varied VMs, about a quarter deleted."""
    name = f"test_explain_deleted_{uuid.uuid4().hex[:8]}"
    database = mongo_client[name]
    await upgrade(database)
    gone = {"deleted_at": START, "purge_at": START + timedelta(days=36500)}  # never purged here
    docs = [vm_doc(i, **(gone if deleted(i) else {})) for i in range(COUNT)]
    await database.vms.insert_many(docs)
    yield database
    await mongo_client.drop_database(name)


@pytest.mark.parametrize("sort", list(SortOrder), ids=str)
@pytest.mark.parametrize("middle", [False, True], ids=["first", "middle"])
@pytest.mark.parametrize("show_deleted", [True, False], ids=["show_deleted", "live"])
async def test_equality_filters_keep_their_index_order_with_or_without_deleted_vms(
    mixed_db: AsyncDatabase[Raw], sort: SortOrder, middle: bool, show_deleted: bool
) -> None:
    for params in EQUALITY:
        given = {**params, "show_deleted": show_deleted}
        keys, matching, seen = await explain_page(mixed_db, given, sort, middle)
        assert matching > 0, given
        assert "COLLSCAN" not in seen, (given, seen)
        assert "IXSCAN" in seen, (given, seen)
        if "ip_address" not in params:  # (ip_key's index has no sort key: one address's few
            assert "SORT" not in seen, (given, seen)  # VMs are sorted, shown or not)
        values = max([1, *(len(v) for v in params.values() if isinstance(v, list))])
        bound = EQUALITY_FACTOR * (PAGE + 1) * values * COUNT // matching
        if len(params) > 1:  # one field bounds the scan, the other filters (as the live test)
            alone = [
                (await explain_page(mixed_db, {k: v, "show_deleted": show_deleted}, sort, False))[1]
                for k, v in params.items()
            ]
            bound = bound * max(alone) // COUNT
        assert keys <= max(bound, EQUALITY_FACTOR * (PAGE + 1) * values), (given, keys)


@pytest.mark.parametrize("sort", list(SortOrder), ids=str)
@pytest.mark.parametrize("middle", [False, True], ids=["first", "middle"])
@pytest.mark.parametrize("show_deleted", [True, False], ids=["show_deleted", "live"])
async def test_ranges_and_prefixes_stay_on_indexes_with_or_without_deleted_vms(
    mixed_db: AsyncDatabase[Raw], sort: SortOrder, middle: bool, show_deleted: bool
) -> None:
    field = sort.value.removeprefix("-").replace("name", "name_key")
    for params, on_key in RANGES:
        given = {**params, "show_deleted": show_deleted}
        keys, matching, seen = await explain_page(mixed_db, given, sort, middle)
        assert "COLLSCAN" not in seen, (given, seen)
        assert 0 < matching < COUNT, given
        # On the sort key: the matches, deleted ones included (the live condition is checked on
        # the fetched VMs), plus the page's edges; otherwise never more than the collection.
        with_deleted = await mixed_db.vms.count_documents(
            compile_query(make(params, show_deleted=True), PageTokens(b"k")).filter
        )
        bound = with_deleted + 2 * (PAGE + 1) if on_key == field else COUNT
        assert keys <= bound, (given, keys, matching, seen)


async def test_show_deleted_lists_every_vm_and_the_live_listing_none_deleted(
    mixed_db: AsyncDatabase[Raw],
) -> None:
    everything = compile_query(make({}, show_deleted=True), PageTokens(b"k"))
    live = compile_query(make({}), PageTokens(b"k"))
    assert everything.filter == {}
    assert live.filter == LIVE
    assert await mixed_db.vms.count_documents(everything.filter) == COUNT
    gone = sum(1 for i in range(COUNT) if deleted(i))
    assert await mixed_db.vms.count_documents(live.filter) == COUNT - gone
    assert everything.binding != live.binding  # a page token of one is refused by the other


async def test_the_live_count_reads_the_ttl_index_of_purge_at(
    mixed_db: AsyncDatabase[Raw],
) -> None:
    pipeline = [{"$match": DELETED_BY_PURGE_AT}, {"$group": {"_id": 1, "n": {"$sum": 1}}}]
    command: Raw = {"aggregate": "vms", "pipeline": pipeline, "cursor": {}}
    explained = await mixed_db.command(
        "explain", command, verbosity="queryPlanner", codec_options=LENIENT
    )
    assert "COLLSCAN" not in str(explained)
    assert "purge_at_ttl" in str(explained)
    found = await (await mixed_db.vms.aggregate(pipeline)).to_list()
    assert found[0]["n"] == sum(1 for i in range(COUNT) if deleted(i))
