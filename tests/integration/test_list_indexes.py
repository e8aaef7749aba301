"""Every ListVMs filter under every sort runs on an index: MongoDB's explain, first and middle page.

Bounds asserted on `totalKeysExamined` for one page of PAGE VMs (limit PAGE + 1):
- no filter, or one equality filter (status, os, label `key=value` / `key`, ip_address): at most
  EQUALITY_FACTOR x (PAGE + 1) x (values given: one index scan per value, merged), whatever the
  sort and wherever the page starts; with equality filters on two fields, one bounds the scan
  and the other is checked on the VMs fetched, so the bound grows by how many of the first
  filter's VMs the second drops (at most single-filter matches / combined matches);
- ranges, prefixes and `!key` (cpu/memory/storage min/max, created_after/before, ip_in,
  name_prefix, label `!key`): never more than the VMs matching the filter plus 2 x (PAGE + 1)
  when the filter is on the sort key, and never more than the collection (COUNT) otherwise:
  MongoDB then either walks the sort index skipping non-matches or sorts the matches.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest
from bson.codec_options import CodecOptions, DatetimeConversion
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from service.domain.listing import (
    LIVE,
    ListParams,
    PageTokens,
    SortOrder,
    compile_query,
    sort_value,
)
from service.domain.listing.paging import page_queries
from service.storage.errors import parse_id
from service.storage.migrations.runner import upgrade
from service.storage.vms import DELETED_BY_PURGE_AT, not_purged, to_vm
from tests.api.listing_data import vm_doc

COUNT = 3000
PAGE = 20
EQUALITY_FACTOR = 3
Raw = dict[str, Any]
LENIENT = CodecOptions(datetime_conversion=DatetimeConversion.DATETIME_AUTO)  # plans show +inf

EQUALITY: list[dict[str, Any]] = [
    {},
    {"status": ["running"]},
    {"status": ["running", "error"]},
    {"os": ["debian-12"]},
    {"label": ["env=prod"]},
    {"label": ["team"]},
    {"label": ["team=t1", "env=dev"]},
    {"status": ["stopped"], "label": ["env=dev"]},
    {"ip_address": "10.0.1.9"},
]
RANGES: list[tuple[dict[str, Any], str | None]] = [  # (filter, the sort key it is on)
    ({"name_prefix": "Web-0"}, "name_key"),
    ({"cpu_cores_min": 4}, "cpu_cores"),
    ({"cpu_cores_max": 1}, "cpu_cores"),
    ({"memory_mib_min": 2048, "memory_mib_max": 3072}, "memory_mib"),
    ({"storage_gib_max": 20}, "storage_gib"),
    ({"created_after": "2026-01-01T10:00:00Z"}, "created_at"),
    ({"created_before": "2026-01-01T02:00:00Z"}, "created_at"),
    ({"ip_in": "10.0.0.0/24"}, None),
    ({"ip_in": "2001:db8:1::/48"}, None),
    ({"label": ["!team"]}, None),
]


@pytest.fixture(scope="module")
async def explain_db(
    mongo_client: AsyncMongoClient[Raw],
) -> AsyncIterator[AsyncDatabase[Raw]]:
    """A database of its own, migrated, with COUNT varied VMs."""
    name = f"test_explain_{uuid.uuid4().hex[:8]}"
    database = mongo_client[name]
    await upgrade(database)
    await database.vms.insert_many([vm_doc(i) for i in range(COUNT)])
    yield database
    await mongo_client.drop_database(name)


def make(params: dict[str, Any], **more: Any) -> ListParams:
    """ListParams from query-string-like values."""
    return msgspec.convert({**params, **more}, ListParams, strict=False)


def stages(plan: Raw) -> list[str]:
    """Every stage name in an explain plan tree."""
    found = [plan["stage"]]
    for child in [plan.get("inputStage"), *plan.get("inputStages", [])]:
        if child:
            found += stages(child)
    return found


async def explain_page(
    db: AsyncDatabase[Raw], params: dict[str, Any], sort: SortOrder, middle: bool
) -> tuple[int, int, list[str]]:
    """(keys examined, VMs matching, stages) of the finds serving one page (the middle one)."""
    tokens = PageTokens(b"k")
    query = compile_query(make(params, sort=sort, page_size=PAGE), tokens)
    matching = await db.vms.count_documents(query.filter)
    if middle and matching > 2:
        direction = -1 if query.descending else 1
        order = [(query.sort_field, direction), ("_id", direction)]
        mid = await db.vms.find(query.filter, sort=order, skip=matching // 2).next()
        value = sort_value(to_vm(dict(mid)), query.sort_field)
        token = tokens.encode(query.binding, value, str(mid["_id"]))
        with_token = make(params, sort=sort, page_size=PAGE, page_token=token)
        query = compile_query(with_token, tokens)
    keys, seen = 0, []
    for mongo_filter, order in page_queries(query, parse_id):
        mongo_filter = {**mongo_filter, **not_purged(query.filter)}  # as VMRepository.list adds
        command = {"find": "vms", "filter": mongo_filter, "sort": dict(order), "limit": PAGE + 1}
        explained = await db.command(
            "explain", command, verbosity="executionStats", codec_options=LENIENT
        )
        stats = explained["executionStats"]
        keys += stats["totalKeysExamined"]
        seen += stages(stats["executionStages"])
    return keys, matching, seen


@pytest.mark.parametrize("sort", list(SortOrder), ids=str)
@pytest.mark.parametrize("middle", [False, True], ids=["first", "middle"])
async def test_equality_filters_examine_a_few_pages_of_keys(
    explain_db: AsyncDatabase[Raw], sort: SortOrder, middle: bool
) -> None:
    for params in EQUALITY:
        keys, matching, seen = await explain_page(explain_db, params, sort, middle)
        assert "COLLSCAN" not in seen, (params, seen)
        assert "IXSCAN" in seen, (params, seen)
        assert matching > 0
        values = max([1, *(len(v) for v in params.values() if isinstance(v, list))])
        bound = EQUALITY_FACTOR * (PAGE + 1) * values
        if len(params) > 1:
            alone = [await explain_page(explain_db, {k: v}, sort, False) for k, v in params.items()]
            bound = bound * max(single for _, single, _ in alone) // matching
        assert keys <= bound, (params, keys, seen)


@pytest.mark.parametrize("sort", list(SortOrder), ids=str)
@pytest.mark.parametrize("middle", [False, True], ids=["first", "middle"])
async def test_ranges_and_prefixes_run_on_indexes_with_stated_bounds(
    explain_db: AsyncDatabase[Raw], sort: SortOrder, middle: bool
) -> None:
    field = sort.value.removeprefix("-").replace("name", "name_key")
    for params, on_key in RANGES:
        keys, matching, seen = await explain_page(explain_db, params, sort, middle)
        assert "COLLSCAN" not in seen, (params, seen)
        assert 0 < matching < COUNT, params
        bound = matching + 2 * (PAGE + 1) if on_key == field else COUNT
        assert keys <= bound, (params, keys, matching, seen)


async def test_counts_for_include_total_run_on_indexes(explain_db: AsyncDatabase[Raw]) -> None:
    for params in [*EQUALITY, *(p for p, _ in RANGES)]:
        query = compile_query(make(params), PageTokens(b"k"))
        pipeline = [{"$match": query.filter}, {"$group": {"_id": 1, "n": {"$sum": 1}}}]
        command: Raw = {"aggregate": "vms", "pipeline": pipeline, "cursor": {}}
        if not query.filter:  # the collection's own count (estimated_document_count)
            command = {"count": "vms"}
        elif query.filter == LIVE:  # that count minus the deleted VMs, on purge_at's TTL index
            command["pipeline"] = [{"$match": DELETED_BY_PURGE_AT}, *pipeline[1:]]
        explained = await explain_db.command(
            "explain", command, verbosity="queryPlanner", codec_options=LENIENT
        )
        assert "COLLSCAN" not in str(explained), params
