"""Quotas through HTTP: every write that raises usage past a quota is 409 quota-exceeded naming
what is at fault; deletes free; batches count item by item, an atomic one as a whole; the
usage GetProject shows is always that of the live VMs."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.helpers import BASE, BATCH, Client, assert_problem, vm_body
from tests.api.project_scoping.conftest import (
    PROJECTS,
    QUOTA_TYPE,
    Db,
    Q,
    assert_quota_exceeded,
    assert_usage_exact,
    make_project,
)

pytestmark = pytest.mark.usefixtures("clean")


async def make(client: Client, **quota: int) -> None:
    await make_project(client, Q, quota=quota)


async def post(client: Client, name: str, **fields: Any) -> Any:
    return await client.post(BASE, json=vm_body(name=name, project=Q, **fields))


async def test_create_past_the_vms_quota_is_409_with_exactly_its_members(client: Client) -> None:
    await make(client, vms=2)
    for name in ("q-1", "q-2"):
        assert (await post(client, name)).status_code == 201
    r = await post(client, "q-3")
    assert_quota_exceeded(assert_problem(r, 409), "vms", 2, 2, 1)
    upsert = await client.put(f"{BASE}/by-name/q-3", json=vm_body(name="q-3", project=Q))
    assert_quota_exceeded(assert_problem(upsert, 409), "vms", 2, 2, 1)
    assert (await assert_usage_exact(client))["vms"] == 2
    assert (await client.get(BASE, params={"name_prefix": "q-3"})).json()["items"] == []


@pytest.mark.parametrize(
    ("resource", "limit", "least"),
    [("cpu_cores", 4, 1), ("memory_mib", 8192, 128), ("storage_gib", 100, 1)],
)
async def test_growing_past_a_quota_is_409_and_shrinking_passes(
    client: Client, resource: str, limit: int, least: int
) -> None:
    await make(client, **{resource: limit})
    vm = (await post(client, "big")).json()
    small = await post(client, "small", **{resource: least})
    assert small.status_code == 201, small.text
    used, fits = vm[resource] + least, limit - least
    path = f"{BASE}/{vm['id']}"
    patch = await client.patch(path, json={resource: fits + 1})
    requested = fits + 1 - vm[resource]
    assert_quota_exceeded(assert_problem(patch, 409), resource, limit, used, requested)
    put = await client.put(path, json=vm_body(name="big", **{resource: fits + 1}))
    assert_quota_exceeded(assert_problem(put, 409), resource, limit, used, requested)
    upsert = await client.put(f"{BASE}/by-name/big",
                              json=vm_body(name="big", **{resource: fits + 1}),
                              params={"project": Q})  # fmt: skip
    assert_quota_exceeded(assert_problem(upsert, 409), resource, limit, used, requested)
    assert (await client.get(path)).json() == vm
    assert (await client.patch(path, json={resource: fits})).status_code == 200
    assert (await client.get(path)).json()[resource] == fits
    full = await client.patch(f"{BASE}/{small.json()['id']}", json={resource: least + 1})
    assert_quota_exceeded(assert_problem(full, 409), resource, limit, limit, 1)
    if resource != "storage_gib":  # storage never shrinks (a rule of its own)
        shrink = await client.patch(path, json={resource: vm[resource]})
        assert shrink.status_code == 200, shrink.text
        again = await client.patch(f"{BASE}/{small.json()['id']}", json={resource: least + 1})
        assert again.status_code == 200, again.text
    assert (await client.patch(path, json={"description": "no growth"})).status_code == 200
    await assert_usage_exact(client)


async def test_restore_past_the_quota_is_409(client: Client) -> None:
    await make(client, vms=1, cpu_cores=3)
    first = (await post(client, "first")).json()
    assert (await client.delete(f"{BASE}/{first['id']}")).status_code == 204
    second = (await post(client, "second", cpu_cores=1)).json()
    restore = await client.post(f"{BASE}/{first['id']}/restore")
    assert_quota_exceeded(assert_problem(restore, 409), "vms", 1, 1, 1)
    assert (await client.delete(f"{BASE}/{second['id']}")).status_code == 204
    restored = await client.post(f"{BASE}/{first['id']}/restore")
    assert restored.status_code == 200, restored.text
    assert (await assert_usage_exact(client)) == {"vms": 1, "cpu_cores": 2, "memory_mib": 4096,
                                                  "storage_gib": 40}  # fmt: skip


async def test_delete_and_purge_free_their_usage(client: Client) -> None:
    await make(client, vms=1)
    vm = (await post(client, "one")).json()
    assert_problem(await post(client, "two"), 409)
    assert (await client.delete(f"{BASE}/{vm['id']}")).status_code == 204
    assert (await assert_usage_exact(client))["vms"] == 0
    two = await post(client, "two")
    assert two.status_code == 201, two.text
    purged = await client.delete(f"{BASE}/{two.json()['id']}", params={"purge": "true"})
    assert purged.status_code == 204
    assert (await post(client, "three")).status_code == 201
    assert (await assert_usage_exact(client))["vms"] == 1


async def test_an_atomic_batch_counts_as_a_whole(client: Client, clean: Db) -> None:
    await make(client, vms=5)
    for i in range(3):
        assert (await post(client, f"pre-{i}")).status_code == 201
    before = await assert_usage_exact(client)
    ops = [{"op": "create", "vm": vm_body(name=f"b-{i}", project=Q)} for i in range(3)]
    r = await client.post(BATCH, json={"operations": ops, "atomic": True})
    problem = assert_problem(r, 409)
    statuses = [x["status"] for x in problem["results"]]
    assert sorted(statuses) == [409, 424, 424], statuses
    failed = next(x for x in problem["results"] if x["status"] == 409)["problem"]
    assert failed["type"] == QUOTA_TYPE and failed["resource"] == "vms" and failed["limit"] == 5
    assert await clean.vms.count_documents({"name": {"$regex": "^b-"}}) == 0
    assert await assert_usage_exact(client) == before
    fits = await client.post(BATCH, json={"operations": ops[:2], "atomic": True})
    assert [x["status"] for x in fits.json()["results"]] == [201, 201], fits.text
    assert (await assert_usage_exact(client))["vms"] == 5


async def test_a_non_atomic_batch_fills_the_quota_then_refuses(client: Client) -> None:
    await make(client, vms=3)
    assert (await post(client, "pre")).status_code == 201
    ops = [{"op": "create", "vm": vm_body(name=f"b-{i}", project=Q)} for i in range(4)]
    r = await client.post(BATCH, json={"operations": ops})
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert [x["status"] for x in results] == [201, 201, 409, 409]
    for item in results[2:]:
        assert_quota_exceeded(item["problem"], "vms", 3, 3, 1)
    assert (await assert_usage_exact(client))["vms"] == 3


async def test_a_quota_lowered_below_usage_lets_only_freeing_writes_pass(client: Client) -> None:
    await make(client)
    vms = [(await post(client, f"v-{i}", cpu_cores=2)).json() for i in range(3)]
    lowered = await client.patch(f"{PROJECTS}/{Q}", json={"quota": {"vms": 1, "cpu_cores": 4}})
    assert lowered.status_code == 200, lowered.text
    assert lowered.json()["usage"]["vms"] == 3
    assert_quota_exceeded(assert_problem(await post(client, "new", cpu_cores=1), 409),
                          "vms", 1, 3, 1)  # fmt: skip
    grow = await client.patch(f"{BASE}/{vms[0]['id']}", json={"cpu_cores": 3})
    assert_quota_exceeded(assert_problem(grow, 409), "cpu_cores", 4, 6, 1)
    same = await client.patch(f"{BASE}/{vms[0]['id']}", json={"description": "still fine"})
    assert same.status_code == 200, same.text
    shrink = await client.patch(f"{BASE}/{vms[0]['id']}", json={"cpu_cores": 1})
    assert shrink.status_code == 200, shrink.text
    assert (await client.delete(f"{BASE}/{vms[1]['id']}")).status_code == 204
    assert_problem(await post(client, "new"), 409)  # 2 live VMs, quota 1
    assert (await client.delete(f"{BASE}/{vms[2]['id']}")).status_code == 204
    assert_problem(await post(client, "new"), 409)  # 1 live VM, quota 1
    restore = await client.post(f"{BASE}/{vms[1]['id']}/restore")
    assert_quota_exceeded(assert_problem(restore, 409), "vms", 1, 1, 1)
    assert await assert_usage_exact(client) == {"vms": 1, "cpu_cores": 1, "memory_mib": 4096,
                                                "storage_gib": 40}  # fmt: skip


async def test_other_projects_are_not_limited_by_q(client: Client) -> None:
    await make(client, vms=0)
    assert_problem(await post(client, "x"), 409)
    r = await client.post(BASE, json=vm_body(name="x"))
    assert r.status_code == 201 and r.json()["project"] == "default"
    assert (await assert_usage_exact(client))["vms"] == 0


async def test_writes_that_raise_nothing_pass_a_full_quota(client: Client) -> None:
    await make(client, vms=1, cpu_cores=2)
    vm = (await post(client, "x")).json()
    upsert = await client.put(f"{BASE}/by-name/X", json=vm_body(name="X", description="d"),
                              params={"project": Q})  # fmt: skip
    assert upsert.status_code == 200 and upsert.json()["id"] == vm["id"], upsert.text
    put = await client.put(f"{BASE}/{vm['id']}", json=vm_body(name="x", os="other"))
    assert put.status_code == 200, put.text
    ops = [{"op": "delete", "id": vm["id"]}, {"op": "create", "vm": vm_body(name="y", project=Q)}]
    swapped = await client.post(BATCH, json={"operations": ops, "atomic": True})
    assert [x["status"] for x in swapped.json()["results"]] == [204, 201], swapped.text
    assert (await assert_usage_exact(client))["vms"] == 1
