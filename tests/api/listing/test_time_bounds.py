"""created_after / created_before between two milliseconds: ListVMs (MongoDB, which keeps
milliseconds) and WatchVMs' predicate (in the process) apply one rule, and it is the bound as
given: `created_after` inclusive, `created_before` exclusive, to the microsecond."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest
from pymongo.asynchronous.database import AsyncDatabase

from service.domain.listing import ListParams
from service.domain.watch.model import matches, watch_filter
from tests.api.helpers import BASE, Client
from tests.api.listing_data import vm_doc

pytestmark = pytest.mark.usefixtures("clean")
SECOND = datetime(2026, 3, 1, 12, 0, 56, tzinfo=UTC)
CREATED_MS = (338, 339, 340, 341)  # the VMs' creation times: SECOND plus these milliseconds
STAMP = "2026-03-01T12:00:56"
BOUNDS = [  # as a client may write them: whole, sub-millisecond, other offsets
    f"{STAMP}.3385Z", f"{STAMP}.339Z", f"{STAMP}.339000Z", f"{STAMP}.3391Z",
    f"{STAMP}.3395Z", f"{STAMP}.339999Z", f"{STAMP}.340Z", f"{STAMP}.3405Z",
    f"{STAMP}.340001Z", "2026-03-01T13:00:56.3395+01:00", "2026-03-01T11:30:56.340500-00:30",
]  # fmt: skip
CASES: list[dict[str, str]] = [
    *({"created_after": b} for b in BOUNDS),
    *({"created_before": b} for b in BOUNDS),
    {"created_after": f"{STAMP}.3385Z", "created_before": f"{STAMP}.3395Z"},
    {"created_after": f"{STAMP}.3391Z", "created_before": f"{STAMP}.3395Z"},  # no millisecond
    {"created_after": f"{STAMP}.339001Z", "created_before": f"{STAMP}.340001Z"},
    {"created_before": "9999-12-31T23:59:59.999999Z"},  # the latest time there is
    {"created_after": "0001-01-01T00:00:00.000001Z"},
]


def _promise(query: dict[str, str], created: datetime) -> bool:
    """What the parameters promise: created_after inclusive, created_before exclusive."""
    after, before = query.get("created_after"), query.get("created_before")
    return (after is None or created >= datetime.fromisoformat(after)) and (
        before is None or created < datetime.fromisoformat(before)
    )


@pytest.mark.parametrize("query", CASES, ids=lambda q: "&".join(f"{k}={v}" for k, v in q.items()))
async def test_listing_and_the_watch_predicate_agree_with_the_bound(
    client: Client, clean: AsyncDatabase[dict[str, Any]], query: dict[str, str]
) -> None:
    docs = [
        vm_doc(i, name=f"tb-{ms}", created_at=SECOND + timedelta(milliseconds=ms))
        for i, ms in enumerate(CREATED_MS)
    ]
    await clean.vms.insert_many(docs)
    stored = [doc async for doc in clean.vms.find({})]  # as MongoDB keeps them (milliseconds)

    answer = await client.get(BASE, params={**query, "page_size": "500"})
    assert answer.status_code == 200, answer.text
    listed = {vm["name"] for vm in answer.json()["items"]}
    params = msgspec.convert(query, ListParams, strict=False)
    watched = {doc["name"] for doc in stored if matches(watch_filter(params), doc)}
    promised = {doc["name"] for doc in stored if _promise(query, doc["created_at"])}

    assert listed == watched == promised
