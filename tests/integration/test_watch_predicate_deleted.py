"""The watch's predicate agrees with MongoDB on every ListVMs filter when some VMs are deleted:
the live condition (`deleted_at: null`, which MongoDB also matches on a missing field) too."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from service.domain.listing import build_filter
from service.domain.watch.model import matches
from tests.api.listing.test_list_filters import CASES
from tests.api.listing_data import START, seed
from tests.integration.test_watch_predicate import EXTRA_CASES, _params


@pytest.mark.parametrize("show_deleted", [False, True], ids=["live", "show_deleted"])
async def test_predicate_selects_what_mongodb_selects_with_deleted_vms(
    clean: AsyncDatabase[dict[str, Any]], show_deleted: bool
) -> None:
    docs = await seed(clean, 90)
    gone = [doc["_id"] for i, doc in enumerate(docs) if i % 4 == 1]
    # Never due: the test mongod's TTL monitor runs every second, and a purge between reading
    # `stored` and asking MongoDB would make the two disagree (START + 30 days is in the past).
    marks = {"deleted_at": START, "purge_at": START + timedelta(days=36500)}
    await clean.vms.update_many({"_id": {"$in": gone}}, {"$set": marks})
    stored = [doc async for doc in clean.vms.find({})]
    for query in [c[0] for c in CASES] + EXTRA_CASES:
        params = _params(query)
        params.show_deleted = show_deleted
        mongo_filter = build_filter(params)
        expected = {doc["_id"] async for doc in clean.vms.find(mongo_filter, {"_id": 1})}
        assert {doc["_id"] for doc in stored if matches(mongo_filter, doc)} == expected, query
        if not show_deleted:
            assert not expected & set(gone), query
