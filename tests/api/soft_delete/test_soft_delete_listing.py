"""show_deleted on ListVMs (every filter, sort and page token), and everything else that reads
VMs ignoring deleted ones: counts, export, upsert by name, batches; purge by retention (TTL)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from bson import ObjectId
from litestar.testing import AsyncTestClient
from pymongo import AsyncMongoClient

from service.config import Settings
from service.domain.listing import SortOrder
from service.http.app import create_app
from tests.api.helpers import BASE, Client, assert_problem, vm_body

pytestmark = pytest.mark.usefixtures("clean")
FILTERS: list[dict[str, Any]] = [
    {},
    {"status": ["running", "stopped"]},
    {"os": ["debian-12"]},
    {"name_prefix": "vm-1"},
    {"label": ["env=prod"]},
    {"label": ["!team"]},
    {"cpu_cores_min": 2, "cpu_cores_max": 4},
    {"memory_mib_min": 2048},
    {"storage_gib_max": 30},
    {"ip_in": "10.0.0.0/24"},
    {"ip_address": "10.0.0.3"},
    {"created_after": "2000-01-01T00:00:00Z"},
]


async def walk(client: Client, params: dict[str, Any], page_size: int = 3) -> list[str]:
    """Every id of a ListVMs walk, page by page."""
    ids: list[str] = []
    token = None
    while True:
        query = {**params, "page_size": page_size, **({"page_token": token} if token else {})}
        r = await client.get(BASE, params=query)
        assert r.status_code == 200, (params, r.text)
        ids += [vm["id"] for vm in r.json()["items"]]
        token = r.json()["next_page_token"]
        if token is None:
            return ids


@pytest.fixture
async def fleet(client: Client) -> tuple[list[str], set[str]]:
    """14 varied VMs (ids in creation order) and the ids of the 5 then deleted."""
    ids = []
    for i in range(14):
        body = vm_body(
            name=f"vm-{i:02d}", status=["running", "stopped", "provisioning"][i % 3],
            os=["debian-12", "ubuntu-24.04"][i % 2], cpu_cores=[1, 2, 4, 8][i % 4],
            memory_mib=1024 * (i % 4 + 1), storage_gib=10 * (i % 5 + 1),
            labels={"env": ["prod", "dev"][i % 2], **({"team": "a"} if i % 3 == 0 else {})},
            ip_address=f"10.0.{i % 2}.{i % 5}",
        )  # fmt: skip
        r = await client.post(BASE, json=body)
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    return ids, {ids[i] for i in (0, 3, 4, 9, 13)}


async def test_show_deleted_walks_every_filter_and_sort_across_page_tokens(
    client: Client, fleet: tuple[list[str], set[str]]
) -> None:
    _, gone = fleet
    # Before any delete, each walk is the oracle: show_deleted must give it back unchanged
    # (deleted VMs keep every field), and the live walk the same without the deleted ones.
    before = {
        (i, sort): await walk(client, {**f, "sort": sort.value})
        for i, f in enumerate(FILTERS)
        for sort in SortOrder
    }
    assert any(set(found) & gone for found in before.values())
    for vm_id in gone:
        assert (await client.delete(f"{BASE}/{vm_id}", params={"force": "true"})).status_code == 204
    for (i, sort), expected in before.items():
        params = {**FILTERS[i], "sort": sort.value}
        assert await walk(client, {**params, "show_deleted": "true"}) == expected, params
        assert await walk(client, params) == [v for v in expected if v not in gone], params


async def test_a_page_token_is_bound_to_show_deleted(
    client: Client, fleet: tuple[list[str], set[str]]
) -> None:
    _, gone = fleet
    for vm_id in gone:
        await client.delete(f"{BASE}/{vm_id}", params={"force": "true"})
    for shown, other in (("true", "false"), ("false", "true")):
        first = await client.get(BASE, params={"page_size": 2, "show_deleted": shown})
        token = first.json()["next_page_token"]
        mixed = await client.get(BASE, params={"page_token": token, "show_deleted": other})
        assert_problem(mixed, 400, "page_token")


async def test_totals_and_the_unfiltered_count_leave_deleted_vms_out_unless_shown(
    client: Client, fleet: tuple[list[str], set[str]]
) -> None:
    ids, gone = fleet
    for vm_id in gone:
        await client.delete(f"{BASE}/{vm_id}", params={"force": "true"})
    debian = {vm_id for i, vm_id in enumerate(ids) if i % 2 == 0}  # vm-00, vm-02, ...
    for params, expected in (
        ({}, len(ids) - len(gone)),  # no filter: the collection's count minus the deleted
        ({"show_deleted": "true"}, len(ids)),
        ({"os": "debian-12"}, len(debian - gone)),
        ({"os": "debian-12", "show_deleted": "true"}, len(debian)),
    ):
        r = await client.get(BASE, params={**params, "include_total": "true"})
        assert r.json()["total_size"] == expected, params


async def test_export_upsert_and_batches_ignore_deleted_vms(client: Client) -> None:
    old = (await client.post(BASE, json=vm_body(name="edge-01"))).json()
    await client.delete(f"{BASE}/{old['id']}")
    exported = await client.get(f"{BASE}/export")
    assert old["id"] not in exported.text
    assert_problem(await client.get(f"{BASE}/export", params={"show_deleted": "true"}), 400)
    # Upsert by the deleted VM's name creates a new VM (the deleted one is nobody's name holder).
    upsert = await client.put(f"{BASE}/by-name/EDGE-01", json=vm_body(name="edge-01"))
    assert upsert.status_code == 201, upsert.text
    assert upsert.json()["id"] != old["id"]
    # A batch delete is a soft delete under the same rules; a deleted VM is missing to a batch.
    ops = [
        {"op": "delete", "id": upsert.json()["id"]},
        {"op": "update", "id": old["id"], "patch": {"os": "x"}},
        {"op": "delete", "id": old["id"]},
    ]
    results = (await client.post(f"{BASE}/batch", json={"operations": ops})).json()["results"]
    assert [r["status"] for r in results] == [204, 404, 404]
    restored = await client.post(f"{BASE}/{upsert.json()['id']}/restore")
    assert restored.status_code == 200
    atomic = {"operations": [{"op": "delete", "id": upsert.json()["id"]}], "atomic": True}
    assert (await client.post(f"{BASE}/batch", json=atomic)).status_code == 200
    shown = await client.get(f"{BASE}/{upsert.json()['id']}", params={"show_deleted": "true"})
    assert "deleted_at" in shown.json()


@pytest.fixture
async def quick_purges(mongo_client: AsyncMongoClient[dict[str, Any]]) -> AsyncIterator[None]:
    """MongoDB's TTL monitor every second (60 by default) for the test, then as it was. The
    local mongod of tests/conftest.py starts so; a MONGODB_URL server reads the new setting
    after its current sleep (up to 60 s)."""
    admin = mongo_client.admin
    was = await admin.command({"getParameter": 1, "ttlMonitorSleepSecs": 1})
    await admin.command({"setParameter": 1, "ttlMonitorSleepSecs": 1})
    yield
    await admin.command({"setParameter": 1, "ttlMonitorSleepSecs": was["ttlMonitorSleepSecs"]})


@pytest.mark.usefixtures("quick_purges")
async def test_mongodb_purges_a_deleted_vm_after_its_retention_and_the_history_says_so(
    settings: Settings, admin_token: str, mongo_client: AsyncMongoClient[dict[str, Any]]
) -> None:
    seconds = 2
    short = settings.model_copy(update={"deleted_retention_days": seconds / 86400})
    async with AsyncTestClient(app=create_app(short)) as client:
        client.headers["Authorization"] = f"Bearer {admin_token}"
        vm = (await client.post(BASE, json=vm_body(name="short-lived"))).json()
        kept = (await client.post(BASE, json=vm_body(name="kept"))).json()
        await client.delete(f"{BASE}/{vm['id']}")
        shown = (await client.get(f"{BASE}/{vm['id']}", params={"show_deleted": "true"})).json()
        url = f"{BASE}/{vm['id']}"
        deadline = time.monotonic() + 90  # a bound against hanging, not a timing assertion
        # Gone to the API at its purge_at; then MongoDB's TTL monitor removes the document.
        stored = mongo_client[settings.mongodb_db]["vms"]
        while await stored.find_one({"_id": ObjectId(vm["id"])}, {"_id": 1}) is not None:
            assert time.monotonic() < deadline, "the TTL monitor never purged the VM"
            await asyncio.sleep(0.5)
        assert_problem(await client.get(url, params={"show_deleted": "true"}), 404)
        assert_problem(await client.post(f"{url}/restore"), 404)
        events = (await client.get(f"{url}/events")).json()["items"]
        assert [(e["revision"], e["action"]) for e in events] == [
            (3, "purged"), (2, "deleted"), (1, "created"),
        ]  # fmt: skip
        purged = events[0]
        assert (purged["actor"], purged["changes"]) == ("retention", {})
        assert purged["timestamp"] == shown["purge_at"]
        assert len(purged["id"]) == 24
        # Paging the history past the derived event, and reading it again, agree.
        first = (await client.get(f"{url}/events", params={"page_size": 1})).json()
        rest = await client.get(
            f"{url}/events", params={"page_size": 5, "page_token": first["next_page_token"]}
        )
        assert first["items"] == events[:1]
        assert rest.json()["items"] == events[1:]
        assert (await client.get(f"{BASE}/{kept['id']}")).status_code == 200  # live: kept
