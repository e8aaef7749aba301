"""The watch's in-process predicate agrees with MongoDB on every ListVMs filter (one definition)."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from pymongo.asynchronous.database import AsyncDatabase

from service.domain.listing import ListParams, build_filter
from service.domain.watch.model import matches
from tests.api.listing.test_list_filters import CASES
from tests.api.listing_data import seed

EXTRA_CASES: list[dict[str, Any]] = [
    {"name_prefix": "\U0010ffff"},
    {"ip_in": "10.0.0.0/8", "label": ["env", "!team"]},
    {"ip_address": "10.0.3.3", "ip_in": "10.0.0.0/14"},
    {"cpu_cores_min": 0, "cpu_cores_max": 0},
]


def _params(query: dict[str, Any]) -> ListParams:
    listed = {k: [v] if k in ("status", "os", "label") and isinstance(v, str) else v
              for k, v in query.items()}  # fmt: skip
    return msgspec.convert(listed, ListParams, strict=False)


@pytest.mark.parametrize("query", [c[0] for c in CASES] + EXTRA_CASES, ids=repr)
async def test_predicate_selects_what_mongodb_selects(
    clean: AsyncDatabase[dict[str, Any]], query: dict[str, Any]
) -> None:
    await seed(clean, 90)
    stored = [doc async for doc in clean.vms.find({})]
    mongo_filter = build_filter(_params(query))
    expected = {doc["_id"] async for doc in clean.vms.find(mongo_filter, {"_id": 1})}
    assert {doc["_id"] for doc in stored if matches(mongo_filter, doc)} == expected
