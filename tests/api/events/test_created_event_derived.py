"""A create is one single-document write: the VM records its creation and its `created` event is
derived from it until the VM's first later write adds it to `vm_events`. The history a client
reads is the same before and after that, whatever the first later write is."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest
from bson import ObjectId
from pymongo.asynchronous.database import AsyncDatabase

from service.domain.events import RECORDED_FIELDS
from tests.api.helpers import BASE, Client, stored_events, vm_body

pytestmark = pytest.mark.usefixtures("clean")
Db = AsyncDatabase[dict[str, Any]]

# The first write after the create, each as the client sends it: (method, path suffix, kwargs).
FIRST_WRITES: dict[str, tuple[str, dict[str, Any]]] = {
    "patch": ("PATCH", {"json": {"labels": {"team": "a"}, "description": "x"}}),
    "status": ("PATCH", {"json": {"status": "running"}}),
    "put": ("PUT", {"json": vm_body(name="renamed", storage_gib=80)}),
    "delete": ("DELETE", {}),
    "idempotent patch": (
        "PATCH",
        {"json": {"os": "debian-12"}, "headers": {"Idempotency-Key": "first-write"}},
    ),
}
CREATES: dict[str, dict[str, str]] = {
    "plain": {"X-Request-ID": "req-create"},
    "idempotent": {"X-Request-ID": "req-create", "Idempotency-Key": "create-1"},
}


async def history(client: Client, vm_id: str, **params: Any) -> dict[str, Any]:
    response = await client.get(f"{BASE}/{vm_id}/events", params=params)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


def expected_created(vm: dict[str, Any]) -> dict[str, Any]:
    """The `created` event as the service always wrote it: every recorded field from null."""
    return {
        "id": vm["id"], "vm_id": vm["id"], "project": vm["project"], "revision": 1,
        "action": "created",
        "changes": {f: {"before": None, "after": vm[f]} for f in RECORDED_FIELDS},
        "timestamp": vm["created_at"], "actor": "test-admin", "request_id": "req-create",
    }  # fmt: skip


@pytest.mark.parametrize("create_headers", CREATES.values(), ids=CREATES.keys())
@pytest.mark.parametrize("first_write", FIRST_WRITES, ids=FIRST_WRITES.keys())
async def test_the_created_event_reads_the_same_before_and_after_the_first_write(
    client: Client, db: Db, first_write: str, create_headers: dict[str, str]
) -> None:
    body = vm_body(labels={"env": "dev"}, ip_address="10.0.0.7", description="d")
    created = await client.post(BASE, json=body, headers=create_headers)
    assert created.status_code == 201, created.text
    vm = created.json()
    before = await history(client, vm["id"])
    assert before == {"items": [expected_created(vm)], "next_page_token": None}
    assert await db.vm_events.count_documents({}) == 0  # nothing but the VM was written

    method, kwargs = FIRST_WRITES[first_write]
    written = await client.request(method, f"{BASE}/{vm['id']}", **kwargs)
    assert written.is_success, written.text

    after = (await history(client, vm["id"]))["items"]
    assert [e["revision"] for e in after] == [2, 1]
    assert after[1] == before["items"][0]
    assert after[0]["changes"] and after[0]["request_id"] != "req-create"
    stored = await stored_events(db)
    assert [(d["_id"] == ObjectId(vm["id"]), d["revision"]) for d in stored] == [
        (True, 1), (False, 2),
    ]  # fmt: skip
    if method != "DELETE":
        state = (await client.get(f"{BASE}/{vm['id']}")).json()
        assert state == written.json()


async def test_a_write_that_changes_nothing_leaves_the_event_derived(
    client: Client, db: Db
) -> None:
    vm = (await client.post(BASE, json=vm_body(), headers=CREATES["plain"])).json()
    unchanged = await client.patch(f"{BASE}/{vm['id']}", json={"os": vm["os"]})
    assert unchanged.json()["revision"] == 1
    assert (await history(client, vm["id"]))["items"] == [expected_created(vm)]
    assert await db.vm_events.count_documents({}) == 0


async def test_pages_of_a_long_history_end_with_the_same_created_event(client: Client) -> None:
    vm = (await client.post(BASE, json=vm_body(), headers=CREATES["plain"])).json()
    first_page = await history(client, vm["id"], page_size=1)
    assert first_page["items"] == [expected_created(vm)]
    assert first_page["next_page_token"] is None
    for i in range(4):
        await client.patch(f"{BASE}/{vm['id']}", json={"description": f"v{i}"})
    seen: list[dict[str, Any]] = []
    token = None
    while True:
        page = await history(
            client, vm["id"], page_size=2, **({"page_token": token} if token else {})
        )
        seen += page["items"]
        if (token := page["next_page_token"]) is None:
            break
    assert [e["revision"] for e in seen] == [5, 4, 3, 2, 1]
    assert seen[-1] == expected_created(vm)


async def test_a_vm_created_before_the_creation_record_keeps_its_one_created_event(
    client: Client, db: Db
) -> None:
    """Stored as before migration 0007: no record on the VM, the event in `vm_events`."""
    vm = (await client.post(BASE, json=vm_body(), headers=CREATES["plain"])).json()
    oid = ObjectId(vm["id"])
    old_event = {**expected_created(vm), "_id": ObjectId(), "vm_id": oid}
    del old_event["id"]
    old_event["timestamp"] = (await db.vms.find_one({"_id": oid}))["created_at"]  # type: ignore[index]
    await db.vm_events.insert_one(old_event)
    await db.vms.update_one({"_id": oid}, {"$unset": {"created_by": "", "created_request_id": ""}})
    old_history = (await history(client, vm["id"]))["items"]
    assert [(e["id"], e["revision"]) for e in old_history] == [(str(old_event["_id"]), 1)]

    assert (await client.patch(f"{BASE}/{vm['id']}", json={"description": "x"})).is_success
    assert (await client.delete(f"{BASE}/{vm['id']}")).status_code == 204
    items = (await history(client, vm["id"]))["items"]
    assert [(e["action"], e["revision"]) for e in items] == [
        ("deleted", 3), ("updated", 2), ("created", 1),
    ]  # fmt: skip
    assert items[-1] == old_history[0]


async def test_racing_first_writes_record_the_created_event_exactly_once(
    client: Client, db: Db
) -> None:
    vms = [
        (await client.post(BASE, json=vm_body(name=f"race-{i}"), headers=CREATES["plain"])).json()
        for i in range(3)
    ]

    async def write(vm: dict[str, Any], i: int) -> int:
        path = f"{BASE}/{vm['id']}"
        response = await client.patch(path, json={"labels": {f"k{i}": "v"}})
        return response.status_code

    async def read(vm: dict[str, Any]) -> list[int]:
        revisions = [e["revision"] for e in (await history(client, vm["id"]))["items"]]
        assert revisions == sorted(set(revisions), reverse=True) and revisions[-1] == 1
        return revisions

    tasks = [write(vm, i) for vm in vms for i in range(10)] + [read(vm) for vm in vms * 5]
    results = await asyncio.gather(*tasks)
    assert Counter(results[:30]) == {200: 30}
    for vm in vms:
        items = (await history(client, vm["id"]))["items"]
        assert [e["revision"] for e in items] == list(range(11, 0, -1))
        assert items[-1] == expected_created(vm)
    assert len(await stored_events(db, {"action": "created"})) == 3
