"""include_total counts a filtered list exactly up to TOTAL_EXACT_MAX matches and past it answers
that bound marked as a lower bound; the whole collection's count stays exact past it."""

from __future__ import annotations

from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

import service.domain.vms
from tests.api.helpers import BASE, Client
from tests.api.listing_data import seed

pytestmark = pytest.mark.usefixtures("clean")
COUNT = 90
ERRORS = COUNT // 5  # VMs with status `error` in the seed


async def total(client: Client, params: dict[str, Any]) -> tuple[int, bool, int]:
    """total_size, total_size_exact and the page's length of one include_total request."""
    answer = await client.get(BASE, params={**params, "include_total": "true", "page_size": 5})
    assert answer.status_code == 200, answer.text
    page = answer.json()
    return page["total_size"], page["total_size_exact"], len(page["items"])


@pytest.mark.parametrize("bound", [ERRORS - 1, ERRORS, ERRORS + 1, 1])
async def test_a_filtered_total_is_exact_up_to_the_bound_and_a_lower_bound_past_it(
    client: Client, db: AsyncDatabase[dict[str, Any]], monkeypatch: pytest.MonkeyPatch, bound: int
) -> None:
    monkeypatch.setattr(service.domain.vms, "TOTAL_EXACT_MAX", bound)
    await seed(db, COUNT)
    exact = bound >= ERRORS
    assert await total(client, {"status": "error"}) == (ERRORS if exact else bound, exact, 5)
    assert await total(client, {"name_prefix": "db-0002"}) == (1, True, 1)
    assert await total(client, {"label": "team=t9"}) == (0, True, 0)


async def test_the_whole_collection_is_counted_exactly_past_the_bound(
    client: Client, db: AsyncDatabase[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service.domain.vms, "TOTAL_EXACT_MAX", 3)
    await seed(db, COUNT)
    assert await total(client, {}) == (COUNT, True, 5)
    assert await total(client, {"show_deleted": "true"}) == (COUNT, True, 5)


async def test_the_bound_is_not_in_a_page_without_include_total(
    client: Client, db: AsyncDatabase[dict[str, Any]]
) -> None:
    await seed(db, 10)
    page = (await client.get(BASE, params={"status": "error"})).json()
    assert not {"total_size", "total_size_exact"} & set(page)
