"""BatchVMs: per-item results equal to the single operations, atomic batches, envelope errors."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from pymongo.asynchronous.database import AsyncDatabase

from service.domain.apikeys import Scope
from service.storage.api_keys import ApiKeyRepository
from tests.api.helpers import BASE, BATCH, MISSING_ID, Client, assert_problem, create, vm_body

pytestmark = pytest.mark.usefixtures("clean")


async def batch(client: Client, *ops: dict[str, Any], atomic: bool = False, **kw: Any) -> Any:
    return await client.post(BATCH, json={"operations": list(ops), "atomic": atomic}, **kw)


async def test_every_op_kind_succeeds_as_its_single_operation(client: Client) -> None:
    a = await create(client, name="a", status="stopped")
    b = await create(client, name="b")
    r = await batch(
        client,
        {"op": "create", "vm": vm_body(name="c")},
        {"op": "update", "id": a["id"], "patch": {"cpu_cores": 4}, "if_match": 1},
        {"op": "replace", "id": b["id"], "vm": vm_body(name="b", storage_gib=80)},
        {"op": "upsert", "name": "D", "vm": vm_body(name="d")},
        {"op": "upsert", "name": "a", "vm": vm_body(name="A", status="running")},
        {"op": "delete", "id": b["id"], "force": False},
    )
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert [(x["index"], x["status"]) for x in results] == [
        (0, 201), (1, 200), (2, 200), (3, 201), (4, 200), (5, 204),
    ]  # fmt: skip
    assert results[0]["vm"]["name"] == "c" and results[0]["vm"]["revision"] == 1
    assert results[1]["vm"]["cpu_cores"] == 4
    assert results[4]["vm"] == (await client.get(f"{BASE}/{a['id']}")).json()
    assert results[4]["vm"]["status"] == "running" and results[4]["vm"]["revision"] == 3
    assert "vm" not in results[5] and "problem" not in results[5]
    assert (await client.get(f"{BASE}/{b['id']}")).status_code == 404
    for result in (results[0], results[3], results[4]):  # the last writes of their VMs
        got = await client.get(f"{BASE}/{result['vm']['id']}")
        assert got.json() == result["vm"]


# Each case: the state to build, then one failing operation as a batch item and as its single
# request; the item must carry exactly the single request's status and problem body.
Case = Callable[[Client, dict[str, Any]], Awaitable[tuple[dict[str, Any], Callable[[], Any]]]]


def _single(client: Client, op: dict[str, Any]) -> Callable[[], Awaitable[httpx.Response]]:
    headers = {"If-Match": f'"{op["if_match"]}"'} if "if_match" in op else {}
    if op["op"] == "create":
        return lambda: client.post(BASE, json=op["vm"])
    if op["op"] == "update":
        return lambda: client.patch(f"{BASE}/{op['id']}", json=op["patch"], headers=headers)
    if op["op"] == "replace":
        return lambda: client.put(f"{BASE}/{op['id']}", json=op["vm"], headers=headers)
    if op["op"] == "upsert":
        return lambda: client.put(f"{BASE}/by-name/{op['name']}", json=op["vm"])
    params = {"force": "true"} if op.get("force") else {}
    return lambda: client.delete(f"{BASE}/{op['id']}", params=params, headers=headers)


FAILING: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "create-name-taken": lambda vm: {"op": "create", "vm": vm_body(name="WEB-01")},
    "create-bad-type": lambda vm: {"op": "create", "vm": vm_body(name="x", cpu_cores="2")},
    "create-unknown-field": lambda vm: {"op": "create", "vm": vm_body(name="x", color=1)},
    "create-bad-ip": lambda vm: {"op": "create", "vm": vm_body(name="x", ip_address="10.0.0")},
    "create-bad-status": lambda vm: {"op": "create", "vm": vm_body(name="x", status="error")},
    "update-missing": lambda vm: {"op": "update", "id": MISSING_ID, "patch": {"os": "x"}},
    "update-malformed-id": lambda vm: {"op": "update", "id": "nope", "patch": {"os": "x"}},
    "update-stale": lambda vm: {
        "op": "update", "id": vm["id"], "patch": {"os": "x"}, "if_match": 9
    },
    "update-transition": lambda vm: {
        "op": "update", "id": vm["id"], "patch": {"status": "provisioning"}
    },
    "update-shrink": lambda vm: {"op": "update", "id": vm["id"], "patch": {"storage_gib": 1}},
    "update-bad-label": lambda vm: {
        "op": "update", "id": vm["id"], "patch": {"labels": {"A": "1"}}
    },
    "replace-missing": lambda vm: {"op": "replace", "id": MISSING_ID, "vm": vm_body(name="x")},
    "replace-rename-taken": lambda vm: {
        "op": "replace", "id": vm["id"], "vm": vm_body(name="OTHER", status="running")
    },
    "replace-resize-running": lambda vm: {
        "op": "replace", "id": vm["id"], "vm": vm_body(name="web-01", cpu_cores=64)
    },
    "upsert-shrink": lambda vm: {
        "op": "upsert", "name": "web-01", "vm": vm_body(name="web-01", storage_gib=1)
    },
    "upsert-name-differs": lambda vm: {"op": "upsert", "name": "web-01", "vm": vm_body(name="z")},
    "delete-running": lambda vm: {"op": "delete", "id": vm["id"]},
    "delete-stale": lambda vm: {"op": "delete", "id": vm["id"], "force": True, "if_match": 5},
    "delete-missing": lambda vm: {"op": "delete", "id": MISSING_ID},
}  # fmt: skip


@pytest.mark.parametrize("case", FAILING)
async def test_each_failure_is_the_single_operations_answer(client: Client, case: str) -> None:
    vm = await create(client, name="web-01", status="running")
    await create(client, name="other")
    op = FAILING[case](vm)
    single = await _single(client, op)()
    assert 400 <= single.status_code < 500, single.text
    r = await batch(client, op, {"op": "create", "vm": vm_body(name="after")})
    assert r.status_code == 200, r.text
    failed, after = r.json()["results"]
    assert failed == {"index": 0, "status": single.status_code, "problem": single.json()}
    assert after["status"] == 201  # not atomic: the other items still apply
    assert (await client.get(f"{BASE}/{vm['id']}")).json() == vm  # the failure changed nothing


async def test_atomic_batch_applies_everything_in_order(
    client: Client, db: AsyncDatabase[dict[str, Any]]
) -> None:
    vm = await create(client, name="a")
    r = await batch(
        client,
        {"op": "update", "id": vm["id"], "patch": {"cpu_cores": 4}, "if_match": 1},
        {"op": "update", "id": vm["id"], "patch": {"cpu_cores": 8}, "if_match": 2},
        {"op": "delete", "id": vm["id"]},
        {"op": "create", "vm": vm_body(name="A")},  # the name is free again after the delete
        {"op": "upsert", "name": "a", "vm": vm_body(name="a", cpu_cores=3)},
        atomic=True,
    )
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert [x["status"] for x in results] == [200, 200, 204, 201, 200]
    assert results[1]["vm"]["revision"] == 3
    assert results[4]["vm"]["id"] == results[3]["vm"]["id"]
    assert results[4]["vm"]["revision"] == 2
    assert await db.vm_events.count_documents({"vm_id": {"$exists": True}}) == 1 + 3 + 2


async def _snapshot(db: AsyncDatabase[dict[str, Any]]) -> tuple[list[Any], int]:
    vms = [d async for d in db.vms.find({}, sort=[("_id", 1)])]
    return vms, await db.vm_events.count_documents({})


@pytest.mark.parametrize(
    ("last", "status", "item_status"),
    [
        ({"op": "create", "vm": vm_body(name="BASE")}, 409, 409),
        ({"op": "create", "vm": vm_body(name="new-1")}, 409, 409),  # same name earlier on
        ({"op": "update", "id": MISSING_ID, "patch": {"os": "x"}}, 409, 404),
        ({"op": "delete", "id": "{base}", "if_match": 7}, 409, 412),
        ({"op": "create", "vm": vm_body(name="x", memory_mib=1)}, 400, 400),
    ],
    ids=["name-taken", "name-taken-inside-batch", "not-found", "stale", "invalid"],
)
async def test_atomic_batch_failing_on_its_last_item_leaves_nothing_behind(
    client: Client,
    db: AsyncDatabase[dict[str, Any]],
    last: dict[str, Any],
    status: int,
    item_status: int,
) -> None:
    base = await create(client, name="base")
    if last.get("id") == "{base}":
        last = {**last, "id": base["id"]}
    before = await _snapshot(db)
    r = await batch(
        client,
        {"op": "create", "vm": vm_body(name="new-1")},
        {"op": "update", "id": base["id"], "patch": {"cpu_cores": 6}},
        {"op": "upsert", "name": "new-2", "vm": vm_body(name="new-2")},
        last,
        atomic=True,
    )
    problem = assert_problem(r, status)
    results = problem["results"]
    assert [x["status"] for x in results] == [424, 424, 424, item_status]
    assert results[3]["problem"]["status"] == item_status
    assert all(x["problem"]["type"].endswith("/not-applied") for x in results[:3])
    assert "operation 3" in problem["detail"]
    assert await _snapshot(db) == before


async def test_envelope_errors_are_400_naming_the_item(client: Client) -> None:
    vm = vm_body(name="x")
    cases: list[tuple[Any, str]] = [
        ([{"op": "create", "vm": vm}], "body"),
        ({"operations": [{"op": "create", "vm": vm}, {"op": "rename", "id": MISSING_ID}]},
         "operations[1].op"),
        ({"operations": [{"op": "update", "patch": {}}]}, "operations[0].id"),
        ({"operations": [{"op": "delete", "id": MISSING_ID, "if_match": "1"}]},
         "operations[0].if_match"),
        ({"operations": [{"op": "create", "vm": "web"}]}, "operations[0].vm"),
        ({"operations": [{"vm": vm}]}, "operations[0].op"),
        ({"operations": [{"op": "create", "vm": vm}] * 1001}, "operations"),
        ({"operations": [], "atomic": "yes"}, "atomic"),
        ({"operations": [], "extra": 1}, "extra"),
    ]  # fmt: skip
    for body, field in cases:
        r = await client.post(BATCH, json=body)
        problem = assert_problem(r, 400, field)
        assert problem["errors"][0]["field"] == field, problem
    assert (await client.get(BASE)).json()["items"] == []


async def test_each_item_records_its_event_with_actor_and_request_id(client: Client) -> None:
    vm = await create(client, name="a")
    r = await batch(
        client,
        {"op": "update", "id": vm["id"], "patch": {"os": "debian-12"}},
        {"op": "create", "vm": vm_body(name="b")},
        headers={"X-Request-Id": "batch-req-1"},
    )
    created = r.json()["results"][1]["vm"]
    for vm_id, action in ((vm["id"], "updated"), (created["id"], "created")):
        events = (await client.get(f"{BASE}/{vm_id}/events")).json()["items"]
        assert (events[0]["action"], events[0]["actor"]) == (action, "test-admin")
        assert events[0]["request_id"] == "batch-req-1"


async def test_a_retried_batch_is_replayed_not_applied_again(
    client: Client, db: AsyncDatabase[dict[str, Any]]
) -> None:
    vm = await create(client, name="a")
    ops = [
        {"op": "create", "vm": vm_body(name="b")},
        {"op": "update", "id": vm["id"], "patch": {"cpu_cores": 3}},
        {"op": "create", "vm": vm_body(name="A")},  # a per-item 409 is part of the answer
    ]
    key = {"Idempotency-Key": "batch-key-1"}
    for atomic in (False, True):
        first = await batch(client, *ops, atomic=atomic, headers=key | {"X": str(atomic)})
        again = await batch(client, *ops, atomic=atomic, headers=key | {"X": str(atomic)})
        assert again.headers.get("idempotent-replayed") == "true"
        assert (again.status_code, again.json()) == (first.status_code, first.json())
        key = {"Idempotency-Key": "batch-key-2"}
    assert await db.vms.count_documents({}) == 2
    assert (await client.get(f"{BASE}/{vm['id']}")).json()["revision"] == 2
    other = await batch(client, ops[0], headers={"Idempotency-Key": "batch-key-1"})
    assert_problem(other, 422)


async def test_scopes(client: Client, api_keys: ApiKeyRepository) -> None:
    read = await api_keys.create("batch-reader", Scope.READ)
    write = await api_keys.create("batch-writer", Scope.WRITE)
    body = {"operations": [{"op": "create", "vm": vm_body(name="s")}]}
    denied = await client.post(BATCH, json=body, headers={"Authorization": f"Bearer {read}"})
    assert_problem(denied, 403)
    upsert = await client.put(
        f"{BASE}/by-name/s", json=vm_body(name="s"), headers={"Authorization": f"Bearer {read}"}
    )
    assert_problem(upsert, 403)
    export = await client.get(f"{BASE}/export", headers={"Authorization": f"Bearer {read}"})
    assert export.status_code == 200
    ok = await client.post(BATCH, json=body, headers={"Authorization": f"Bearer {write}"})
    assert ok.status_code == 200 and ok.json()["results"][0]["status"] == 201
    assert_problem(await client.post(BATCH, json=body, headers={"Authorization": ""}), 401)


async def test_racing_batches_with_overlapping_names_create_each_name_once(
    client: Client, db: AsyncDatabase[dict[str, Any]]
) -> None:
    names = [f"race-{i}" for i in range(29)]  # 20 batches of 10, each starting one further

    async def one(offset: int, atomic: bool) -> httpx.Response:
        chosen = names[offset : offset + 10]
        ops = [{"op": "create", "vm": vm_body(name=n.upper() if offset % 2 else n)} for n in chosen]
        return await batch(client, *ops, atomic=atomic)

    answers = await asyncio.gather(*(one(i, False) for i in range(20)))
    statuses = [x["status"] for a in answers for x in a.json()["results"]]
    assert sorted(set(statuses)) == [201, 409]
    assert statuses.count(201) == len(names)
    assert await db.vms.count_documents({}) == len(names)
    assert len(await db.vms.distinct("name_key")) == len(names)


async def test_racing_atomic_batches_apply_whole_or_not_at_all(
    client: Client, db: AsyncDatabase[dict[str, Any]]
) -> None:
    async def one(offset: int) -> httpx.Response:
        ops = [{"op": "create", "vm": vm_body(name=f"atom-{offset + i}")} for i in range(5)]
        return await batch(client, *ops, atomic=True)

    answers = await asyncio.gather(*(one(i) for i in range(20)))
    applied = [a for a in answers if a.status_code == 200]
    assert applied, [a.text for a in answers]
    for answer in answers:
        statuses = {x["status"] for x in answer.json()["results"]}
        assert statuses == {201} if answer.status_code == 200 else statuses == {409, 424}
    created = {x["vm"]["id"] for a in applied for x in a.json()["results"]}
    assert await db.vms.count_documents({}) == len(created) == 5 * len(applied)
    assert len(await db.vms.distinct("name_key")) == len(created)


async def test_runs_of_creates_answer_each_item_as_its_single_create(
    client: Client, db: AsyncDatabase[dict[str, Any]]
) -> None:
    await create(client, name="taken")
    ops = [{"op": "create", "vm": vm_body(name=f"many-{i}")} for i in range(250)]
    ops[30] = {"op": "create", "vm": vm_body(name="bad", cpu_cores=0)}
    ops[120] = {"op": "create", "vm": vm_body(name="TAKEN")}
    ops[121] = {"op": "create", "vm": vm_body(name="MANY-5")}  # taken earlier in this batch
    ops[200] = {"op": "create", "vm": vm_body(name="x", ip_address="nope")}
    r = await batch(client, *ops)
    results = r.json()["results"]
    failed = {30: 400, 120: 409, 121: 409, 200: 400}
    assert [x["status"] for x in results] == [failed.get(i, 201) for i in range(250)]
    assert results[30]["problem"]["errors"][0]["field"] == "cpu_cores"
    assert results[200]["problem"]["errors"][0]["field"] == "ip_address"
    created = [x["vm"]["id"] for x in results if x["status"] == 201]
    assert await db.vms.count_documents({}) == 1 + 246
    for vm_id in created[::40]:
        events = (await client.get(f"{BASE}/{vm_id}/events")).json()["items"]
        assert [e["action"] for e in events] == ["created"]
        assert (await client.get(f"{BASE}/{vm_id}")).json() == next(
            x["vm"] for x in results if x.get("vm", {}).get("id") == vm_id
        )
