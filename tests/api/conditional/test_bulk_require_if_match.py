"""REQUIRE_IF_MATCH on the bulk routes: batch items answer 428 as their single operations do."""

from __future__ import annotations

import pytest

from tests.api.helpers import BASE, Client, assert_problem, vm_body

pytestmark = pytest.mark.usefixtures("clean")


async def test_batch_items_without_if_match_are_428_like_single_writes(
    strict_client: Client,
) -> None:
    vm = (await strict_client.post(BASE, json=vm_body())).json()
    single = await strict_client.patch(f"{BASE}/{vm['id']}", json={"os": "x"})
    assert_problem(single, 428)
    ops = [
        {"op": "update", "id": vm["id"], "patch": {"os": "x"}},
        {"op": "replace", "id": vm["id"], "vm": vm_body(os="x")},
        {"op": "delete", "id": vm["id"]},
        {"op": "update", "id": vm["id"], "patch": {"os": "y"}, "if_match": 1},
        {"op": "create", "vm": vm_body(name="new")},
        {"op": "upsert", "name": "other", "vm": vm_body(name="other")},
    ]
    r = await strict_client.post(f"{BASE}/batch", json={"operations": ops})
    results = r.json()["results"]
    assert [x["status"] for x in results] == [428, 428, 428, 200, 201, 201]
    assert results[0]["problem"] == single.json()


async def test_upsert_needs_if_match_or_if_none_match(strict_client: Client) -> None:
    path = f"{BASE}/by-name/web-01"
    assert_problem(await strict_client.put(path, json=vm_body()), 428)
    created = await strict_client.put(path, json=vm_body(), headers={"If-None-Match": "*"})
    assert created.status_code == 201
    replaced = await strict_client.put(path, json=vm_body(cpu_cores=3), headers={"If-Match": "*"})
    assert replaced.status_code == 200
