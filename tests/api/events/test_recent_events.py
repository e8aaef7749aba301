"""History stays exact while its newest events live in the VM document (service.storage.recent):
across the array's bound, page by page, across the moves to `vm_events` (ids kept), through a
delete and a removal by MongoDB's TTL index, under racing writers, with Idempotency-Keys mixed
in; and no read of a VM ever shows the array."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from bson import ObjectId
from pymongo.asynchronous.database import AsyncDatabase

from service.storage.recent import RECENT_MAX
from tests.api.helpers import BASE, Client, create, stored_events

pytestmark = pytest.mark.usefixtures("clean")
Db = AsyncDatabase[dict[str, Any]]
N = RECENT_MAX


async def every_event(client: Client, vm_id: str, page_size: int) -> list[dict[str, Any]]:
    """The VM's whole history, page by page."""
    seen: list[dict[str, Any]] = []
    params: dict[str, Any] = {"page_size": page_size}
    while True:
        response = await client.get(f"{BASE}/{vm_id}/events", params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["items"]) <= page_size
        seen += page["items"]
        if page["next_page_token"] is None:
            return seen
        params["page_token"] = page["next_page_token"]


async def patch(client: Client, vm_id: str, i: int, **headers: str) -> dict[str, Any]:
    response = await client.patch(f"{BASE}/{vm_id}", json={"description": f"v{i}"}, headers=headers)
    assert response.status_code == 200, response.text
    vm: dict[str, Any] = response.json()
    return vm


async def recent_of(db: Db, vm_id: str) -> list[int]:
    """The revisions the VM document holds in its array."""
    doc = await db.vms.find_one({"_id": ObjectId(vm_id)}, {"recent_events": 1})
    assert doc is not None
    return [e["revision"] for e in doc.get("recent_events", [])]


@pytest.mark.parametrize("updates", [N - 2, N - 1, N, N + 1, 2 * N, 3 * N])
async def test_history_is_exact_across_the_bound_on_every_page_size(
    client: Client, db: Db, updates: int
) -> None:
    vm = await create(client)
    for i in range(updates):
        await patch(client, vm["id"], i)
    whole = await every_event(client, vm["id"], 100)
    assert [e["revision"] for e in whole] == list(range(updates + 1, 0, -1))
    assert [e["action"] for e in whole] == ["updated"] * updates + ["created"]
    assert [e["changes"]["description"]["after"] for e in whole[:-1]] == [
        f"v{i}" for i in reversed(range(updates))
    ]
    assert whole[-1]["id"] == vm["id"]  # the `created` event's id is the VM's
    assert len({e["id"] for e in whole}) == len(whole)
    for page_size in (1, 5, N - 1, N, N + 1, 2 * N + 3):
        assert await every_event(client, vm["id"], page_size) == whole, page_size
    # Every event stored exactly once, in the array or in `vm_events`; the array within bound.
    assert [e["revision"] for e in await stored_events(db)] == list(range(1, updates + 2))
    assert len(await recent_of(db, vm["id"])) <= N


async def test_an_event_keeps_its_id_and_content_when_it_moves(client: Client, db: Db) -> None:
    vm = await create(client)
    for i in range(N - 1):  # the `created` event and N - 1 updates: the array is full
        await patch(client, vm["id"], i)
    before = await every_event(client, vm["id"], 100)
    assert await recent_of(db, vm["id"]) == list(range(1, N + 1))
    assert await db.vm_events.count_documents({}) == 0
    await patch(client, vm["id"], N)  # the array is full: this write moves it
    assert await recent_of(db, vm["id"]) == []
    assert await db.vm_events.count_documents({}) == N + 1
    after = await every_event(client, vm["id"], 100)
    assert after[1:] == before


async def test_a_delete_then_removal_by_the_ttl_index_keeps_every_event(
    client: Client, db: Db
) -> None:
    vm = await create(client)
    for i in range(5):
        await patch(client, vm["id"], i)
    assert len(await recent_of(db, vm["id"])) == 6
    assert (await client.delete(f"{BASE}/{vm['id']}")).status_code == 204
    assert await recent_of(db, vm["id"]) == []  # the delete moved them to `vm_events`
    before = await every_event(client, vm["id"], 100)
    # What MongoDB's TTL index does at purge_at: remove the document, without our code.
    assert (await db.vms.delete_one({"_id": ObjectId(vm["id"])})).deleted_count == 1
    after = await every_event(client, vm["id"], 3)
    assert [(e["revision"], e["action"]) for e in after] == [
        (8, "purged"), (7, "deleted"), *((r, "updated") for r in range(6, 1, -1)), (1, "created"),
    ]  # fmt: skip
    assert after[1:] == before


async def test_a_purge_keeps_every_event(client: Client) -> None:
    vm = await create(client)
    for i in range(3):
        await patch(client, vm["id"], i)
    purged = await client.delete(f"{BASE}/{vm['id']}", params={"purge": "true", "force": "true"})
    assert purged.status_code == 204
    events = await every_event(client, vm["id"], 2)
    assert [(e["revision"], e["action"]) for e in events] == [
        (5, "purged"), (4, "updated"), (3, "updated"), (2, "updated"), (1, "created"),
    ]  # fmt: skip


async def test_a_restored_vm_keeps_its_history_and_takes_new_events(client: Client) -> None:
    vm = await create(client)
    await patch(client, vm["id"], 0)
    assert (await client.delete(f"{BASE}/{vm['id']}")).status_code == 204
    assert (await client.post(f"{BASE}/{vm['id']}/restore")).status_code == 200
    await patch(client, vm["id"], 1)
    events = await every_event(client, vm["id"], 100)
    assert [(e["revision"], e["action"]) for e in events] == [
        (5, "updated"), (4, "restored"), (3, "deleted"), (2, "updated"), (1, "created"),
    ]  # fmt: skip


async def test_racing_updates_record_each_event_once_with_contiguous_revisions(
    client: Client, db: Db
) -> None:
    vms = [await create(client, name=f"race-{i}") for i in range(2)]
    writers = 2 * N + 3  # past the bound twice: moves race the appends

    async def write(vm_id: str, i: int) -> int:
        response = await client.patch(f"{BASE}/{vm_id}", json={"labels": {f"k{i}": "v"}})
        return response.status_code

    statuses = await asyncio.gather(*(write(vm["id"], i) for vm in vms for i in range(writers)))
    assert set(statuses) == {200}
    for vm in vms:
        events = await every_event(client, vm["id"], 7)
        assert [e["revision"] for e in events] == list(range(writers + 1, 0, -1))
        final = (await client.get(f"{BASE}/{vm['id']}")).json()
        assert final["labels"] == {f"k{i}": "v" for i in range(writers)}
        assert final["revision"] == writers + 1
    stored = await stored_events(db)
    assert len(stored) == len({(e["vm_id"], e["revision"]) for e in stored}) == 2 * (writers + 1)


async def test_updates_with_an_idempotency_key_mix_with_the_others(client: Client, db: Db) -> None:
    vm = await create(client)
    keys: dict[int, dict[str, Any]] = {}
    for i in range(N + 4):
        if i % 3 == 0:  # in a transaction: it records its response, and moves the array
            keys[i] = await patch(client, vm["id"], i, **{"Idempotency-Key": f"k-{i}"})
            assert await recent_of(db, vm["id"]) == []
        else:
            await patch(client, vm["id"], i)
    for i, answered in keys.items():  # a replay answers the same and writes nothing
        assert await patch(client, vm["id"], i, **{"Idempotency-Key": f"k-{i}"}) == answered
    events = await every_event(client, vm["id"], 4)
    assert [e["revision"] for e in events] == list(range(N + 5, 0, -1))
    assert [e["changes"]["description"]["after"] for e in events[:-1]] == [
        f"v{i}" for i in reversed(range(N + 4))
    ]
    assert len(await stored_events(db)) == N + 5


async def test_no_read_of_a_vm_shows_its_recent_events(client: Client, db: Db) -> None:
    vm = await create(client, labels={"a.b/c": "x"})
    # The first write (built by MongoDB with its `created` event): label keys with dots.
    first = await client.patch(f"{BASE}/{vm['id']}", json={"labels": {"d.e": "$x"}})
    assert first.status_code == 200, first.text
    assert first.json()["labels"] == {"a.b/c": "x", "d.e": "$x"}
    (update, created) = (await client.get(f"{BASE}/{vm['id']}/events")).json()["items"]
    assert created["changes"]["labels"] == {"before": None, "after": {"a.b/c": "x"}}
    assert update["changes"]["labels"]["after"] == {"a.b/c": "x", "d.e": "$x"}
    for i in range(3):
        written = await patch(client, vm["id"], i)
        assert "recent_events" not in written
    assert len(await recent_of(db, vm["id"])) == 5
    url = f"{BASE}/{vm['id']}"
    shown = (await client.get(url)).json()
    assert shown.keys() == written.keys() == vm.keys()
    assert shown["labels"] == {"a.b/c": "x", "d.e": "$x"}
    page = (await client.get(BASE, params={"name_prefix": vm["name"]})).json()
    assert [v.keys() for v in page["items"]] == [vm.keys()]
    exported = (await client.get(f"{BASE}/export")).text
    assert exported.count(vm["id"]) == 1 and "recent_events" not in exported
    replaced = await client.put(url, json={**{k: shown[k] for k in ("name", "os", "cpu_cores",
                                "memory_mib", "storage_gib")}, "description": "r"})  # fmt: skip
    assert replaced.status_code == 200, replaced.text
    assert replaced.json().keys() == vm.keys()
