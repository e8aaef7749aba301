"""Walking every page while others create and delete VMs: no VM twice, no unchanged VM missed."""

from __future__ import annotations

from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from tests.api.helpers import BASE, Client, vm_body
from tests.api.listing_data import seed, walk

pytestmark = pytest.mark.usefixtures("clean")


@pytest.mark.parametrize("sort", ["-created_at", "name", "cpu_cores", "-memory_mib"])
async def test_walk_during_creates_and_deletes(
    client: Client, db: AsyncDatabase[dict[str, Any]], sort: str
) -> None:
    docs = await seed(db, 240)
    ids = [str(d["_id"]) for d in docs]
    doomed = ids[1::3]  # spread over every order: deleted ahead of and behind the walk
    stable = set(ids) - set(doomed)
    created: list[str] = []

    async def churn() -> None:
        """Between two pages: delete 3 VMs and create 3 (names spread over the whole range)."""
        for _ in range(3):
            if doomed:
                vm_id = doomed.pop(len(doomed) // 2 if len(created) % 2 else -1)
                response = await client.delete(f"{BASE}/{vm_id}", params={"force": "true"})
                assert response.status_code == 204, response.text
            n = len(created)
            name = f"{['a', 'db', 'm', 'web', 'z'][n % 5]}-new-{n:04d}"
            body = vm_body(name=name, cpu_cores=[1, 2, 4, 8][n % 4], memory_mib=1024 * (n % 6 + 1))
            response = await client.post(BASE, json=body)
            assert response.status_code == 201, response.text
            created.append(response.json()["id"])

    items = await walk(client, {"sort": sort}, page_size=15, between_pages=churn)
    seen = [vm["id"] for vm in items]
    assert len(seen) == len(set(seen)), "a VM was returned twice"
    assert stable <= set(seen), f"missed {len(stable - set(seen))} unchanged VMs"
    assert len(created) > 30 and len(doomed) < 50  # the walk really overlapped the churn
    assert set(seen) <= set(ids) | set(created)
    field = sort.removeprefix("-")
    keys = [vm["name"].lower() if field == "name" else vm[field] for vm in items]
    assert keys == sorted(keys, reverse=sort.startswith("-"))
