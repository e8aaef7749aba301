"""A VM of a project the key may not read does not exist for it: every route by id answers
exactly the 404 of an id no VM has (status, headers and body), and changes nothing."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.api.helpers import BASE, BATCH, MISSING_ID, Client, assert_problem, vm_body
from tests.api.project_scoping.conftest import A, B, Db, Keys, create_in

VOLATILE = {"date", "x-request-id", "traceparent"}
ID = "<id>"


def shape(r: httpx.Response, vm_id: str) -> tuple[int, dict[str, str], bytes]:
    """What a client sees of `r`, the id it asked for replaced (ids are all 24 characters)."""
    headers = {k: v.replace(vm_id, ID) for k, v in r.headers.items() if k not in VOLATILE}
    return r.status_code, headers, r.content.replace(vm_id.encode(), ID.encode())


async def assert_like_missing(
    client: Client, method: str, path: str, vm_id: str, **kwargs: Any
) -> httpx.Response:
    """`method path` (its `{id}` the VM's) answers the 404 it answers for an id no VM has."""
    hidden = await client.request(method, path.format(id=vm_id), **kwargs)
    if "Idempotency-Key" in kwargs.get("headers", {}):  # a key is for one request only
        kwargs["headers"] = {**kwargs["headers"], "Idempotency-Key": f"{uuid.uuid4()}"}
    missing = await client.request(method, path.format(id=MISSING_ID), **kwargs)
    assert hidden.status_code == 404, hidden.text
    assert shape(hidden, vm_id) == shape(missing, MISSING_ID)
    return hidden


async def snapshot(client: Client, keys: Keys, vm_id: str) -> tuple[Any, ...]:
    """A's VM and its history as the A key reads them (deleted or not)."""
    vm = await client.get(f"{BASE}/{vm_id}", params={"show_deleted": "true"}, headers=keys.write_a)
    events = await client.get(f"{BASE}/{vm_id}/events", headers=keys.write_a)
    assert events.status_code == 200 and len(events.json()["items"]) >= 1
    return vm.status_code, vm.json(), events.json()


Route = tuple[str, str, dict[str, Any]]
READS: list[Route] = [
    ("GET", "{id}", {}),
    ("HEAD", "{id}", {}),
    ("GET", "{id}", {"params": {"show_deleted": "true"}}),
    ("HEAD", "{id}", {"params": {"show_deleted": "true"}}),
    ("GET", "{id}", {"headers": {"If-None-Match": '"1"'}}),
    ("GET", "{id}", {"headers": {"If-None-Match": "*"}}),
    ("GET", "{id}/events", {}),
    ("HEAD", "{id}/events", {}),
    ("GET", "{id}/events", {"params": {"page_size": 1}}),
]
WRITES: list[Route] = [
    ("PUT", "{id}", {"json": vm_body(name="taken", cpu_cores=1)}),
    ("PUT", "{id}", {"json": vm_body(name="taken"), "headers": {"If-Match": '"1"'}}),
    ("PATCH", "{id}", {"json": {"description": "from b"}}),
    ("PATCH", "{id}", {"json": {"cpu_cores": 1}, "headers": {"If-Match": '"1"'}}),
    ("PATCH", "{id}", {"json": {"project": B}}),
    ("DELETE", "{id}", {}),
    ("DELETE", "{id}", {"params": {"force": "true"}}),
    ("DELETE", "{id}", {"headers": {"If-Match": '"2"'}}),
    ("POST", "{id}/restore", {}),
    ("POST", "{id}/restore", {"headers": {"If-Match": '"2"'}}),
    ("DELETE", "{id}", {"headers": {"Idempotency-Key": "k-delete-1"}}),
    ("PATCH", "{id}", {"json": {"os": "x"}, "headers": {"Idempotency-Key": "k-patch-1"}}),
    ("POST", "{id}/restore", {"headers": {"Idempotency-Key": "k-restore-1"}}),
]


def _ids(routes: list[Route]) -> list[str]:
    return [f"{m} {p.format(id='id')} {sorted(str(v) for v in kw.values())}" for m, p, kw in routes]


@pytest.fixture(params=["live", "deleted", "purged"])
async def a_vm(request: pytest.FixtureRequest, client: Client, keys: Keys) -> dict[str, Any]:
    """A VM of project A: live, deleted (still restorable) or purged (its history stays)."""
    vm = await create_in(client, keys.write_a, name="taken")
    if request.param != "live":
        purge = {"purge": "true"} if request.param == "purged" else {}
        r = await client.delete(f"{BASE}/{vm['id']}", params=purge)
        assert r.status_code == 204
    return vm


@pytest.mark.parametrize(("method", "path", "kwargs"), READS, ids=_ids(READS))
async def test_reads_by_id_are_the_missing_404(
    client: Client, keys: Keys, a_vm: dict[str, Any], method: str, path: str, kwargs: Any
) -> None:
    before = await snapshot(client, keys, a_vm["id"])
    kwargs = {**kwargs, "headers": {**keys.read_b, **kwargs.get("headers", {})}}
    await assert_like_missing(client, method, f"{BASE}/{path}", a_vm["id"], **kwargs)
    assert await snapshot(client, keys, a_vm["id"]) == before


@pytest.mark.parametrize(("method", "path", "kwargs"), WRITES, ids=_ids(WRITES))
async def test_writes_by_id_are_the_missing_404_and_change_nothing(
    client: Client, keys: Keys, a_vm: dict[str, Any], method: str, path: str, kwargs: Any
) -> None:
    before = await snapshot(client, keys, a_vm["id"])
    kwargs = {**kwargs, "headers": {**keys.write_b, **kwargs.get("headers", {})}}
    await assert_like_missing(client, method, f"{BASE}/{path}", a_vm["id"], **kwargs)
    assert await snapshot(client, keys, a_vm["id"]) == before


@pytest.mark.parametrize("force", [False, True])
async def test_a_restricted_admin_key_purges_only_in_its_projects(
    client: Client, keys: Keys, a_vm: dict[str, Any], force: bool
) -> None:
    before = await snapshot(client, keys, a_vm["id"])
    params = {"purge": "true", **({"force": "true"} if force else {})}
    await assert_like_missing(client, "DELETE", f"{BASE}/{{id}}", a_vm["id"],
                              params=params, headers=keys.admin_b)  # fmt: skip
    assert await snapshot(client, keys, a_vm["id"]) == before
    own = await create_in(client, keys.write_b, name="own")
    purged = await client.delete(f"{BASE}/{own['id']}", params=params, headers=keys.admin_b)
    assert purged.status_code == 204, purged.text
    gone = await client.get(f"{BASE}/{own['id']}", params={"show_deleted": "true"})
    assert_problem(gone, 404)


async def test_a_key_of_both_projects_sees_both(client: Client, keys: Keys) -> None:
    a = await create_in(client, keys.write_a, name="one")
    b = await create_in(client, keys.write_b, name="two")
    for vm in (a, b):
        got = await client.get(f"{BASE}/{vm['id']}", headers=keys.write_ab)
        assert got.status_code == 200 and got.json() == vm
    patched = await client.patch(f"{BASE}/{a['id']}", json={"description": "x"},
                                 headers=keys.write_ab)  # fmt: skip
    assert patched.status_code == 200 and patched.json()["project"] == A


async def test_upsert_of_an_a_name_from_b_creates_a_new_vm_in_b(
    client: Client, keys: Keys, a_vm: dict[str, Any]
) -> None:
    before = await snapshot(client, keys, a_vm["id"])
    r = await client.put(f"{BASE}/by-name/TAKEN", json=vm_body(name="TAKEN", cpu_cores=1),
                         headers=keys.write_b)  # fmt: skip
    assert r.status_code == 201, r.text
    assert r.json()["project"] == B and r.json()["id"] != a_vm["id"]
    again = await client.put(f"{BASE}/by-name/taken", json=vm_body(name="taken", cpu_cores=3),
                             headers=keys.write_b)  # fmt: skip
    assert again.status_code == 200 and again.json()["id"] == r.json()["id"]
    assert await snapshot(client, keys, a_vm["id"]) == before


async def test_upsert_needing_an_a_vm_from_b_is_as_if_none_existed(
    client: Client, keys: Keys, a_vm: dict[str, Any]
) -> None:
    """If-Match needs the VM to exist: A's does not, for B."""
    before = await snapshot(client, keys, a_vm["id"])
    headers = {**keys.write_b, "If-Match": '"1"'}
    hidden = await client.put(f"{BASE}/by-name/taken", json=vm_body(name="taken"),
                              headers=headers)  # fmt: skip
    missing = await client.put(f"{BASE}/by-name/tiken", json=vm_body(name="tiken"),
                               headers=headers)  # fmt: skip
    assert hidden.status_code == 412, hidden.text
    assert shape(hidden, "taken") == shape(missing, "tiken")
    assert await snapshot(client, keys, a_vm["id"]) == before


def _by_id_items(vm_id: str) -> list[dict[str, Any]]:
    return [
        {"op": "update", "id": vm_id, "patch": {"description": "from b"}},
        {"op": "replace", "id": vm_id, "vm": vm_body(name="taken", cpu_cores=1)},
        {"op": "delete", "id": vm_id},
        {"op": "delete", "id": vm_id, "force": True, "if_match": 1},
        {"op": "update", "id": vm_id, "patch": {"cpu_cores": 1}, "if_match": 1},
    ]


async def test_batch_items_by_id_are_each_the_missing_404(
    client: Client, keys: Keys, a_vm: dict[str, Any]
) -> None:
    before = await snapshot(client, keys, a_vm["id"])
    answers = []
    for vm_id in (a_vm["id"], MISSING_ID):
        ops = _by_id_items(vm_id)
        r = await client.post(BATCH, json={"operations": ops}, headers=keys.write_b)
        assert r.status_code == 200, r.text
        assert [x["status"] for x in r.json()["results"]] == [404] * len(ops)
        answers.append(shape(r, vm_id))
    assert answers[0] == answers[1]
    assert await snapshot(client, keys, a_vm["id"]) == before


@pytest.mark.parametrize("index", range(5))
async def test_an_atomic_batch_with_one_is_rolled_back_as_for_a_missing_id(
    client: Client, keys: Keys, a_vm: dict[str, Any], index: int
) -> None:
    before = await snapshot(client, keys, a_vm["id"])
    own = await create_in(client, keys.write_b, name="own")
    answers = []
    for vm_id in (a_vm["id"], MISSING_ID):
        ops = [
            {"op": "update", "id": own["id"], "patch": {"description": "changed"}},
            _by_id_items(vm_id)[index],
            {"op": "create", "vm": vm_body(name="new-in-b")},
        ]
        r = await client.post(BATCH, json={"operations": ops, "atomic": True},
                              headers=keys.write_b)  # fmt: skip
        problem = assert_problem(r, 409)
        assert [x["status"] for x in problem["results"]] == [424, 404, 424]
        answers.append(shape(r, vm_id))
    assert answers[0] == answers[1]
    assert await snapshot(client, keys, a_vm["id"]) == before
    got = await client.get(f"{BASE}/{own['id']}", headers=keys.write_b)
    assert got.json() == own
    names = [v["name"] for v in (await client.get(BASE, headers=keys.write_b)).json()["items"]]
    assert names == ["own"]


async def test_batch_upserts_and_creates_stay_in_the_keys_projects(
    client: Client, keys: Keys, a_vm: dict[str, Any], clean: Db
) -> None:
    before = await snapshot(client, keys, a_vm["id"])
    in_a = await clean.vms.count_documents({"project": A})
    ops = [
        {"op": "upsert", "name": "taken", "vm": vm_body(name="taken", cpu_cores=1)},
        {"op": "create", "vm": vm_body(name="other", project=A)},
        {"op": "upsert", "name": "else", "vm": vm_body(name="else", project=A)},
    ]
    r = await client.post(BATCH, json={"operations": ops}, headers=keys.write_b)
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert [x["status"] for x in results] == [201, 403, 403]
    assert results[0]["vm"]["project"] == B and results[0]["vm"]["id"] != a_vm["id"]
    for refused in results[1:]:
        assert "project" in [e["field"] for e in refused["problem"]["errors"]]
    assert await snapshot(client, keys, a_vm["id"]) == before
    assert await clean.vms.count_documents({"project": A}) == in_a


async def test_an_events_page_token_of_an_a_vm_reads_nothing_for_b(
    client: Client, keys: Keys
) -> None:
    a_vm = await create_in(client, keys.write_a, name="busy")
    path = f"{BASE}/{a_vm['id']}/events"
    for os in ("one", "two"):
        assert (await client.patch(f"{BASE}/{a_vm['id']}", json={"os": os})).status_code == 200
    first = (await client.get(path, params={"page_size": 1}, headers=keys.write_a)).json()
    token = first["next_page_token"]
    assert token is not None
    r = await client.get(path, params={"page_size": 1, "page_token": token}, headers=keys.read_b)
    missing = await client.get(f"{BASE}/{MISSING_ID}/events", headers=keys.read_b)
    assert shape(r, a_vm["id"]) == shape(missing, MISSING_ID)


async def test_one_idempotency_key_of_two_keys_makes_two_vms(client: Client, keys: Keys) -> None:
    same = {"Idempotency-Key": "one-key-two-callers"}
    a = await client.post(BASE, json=vm_body(), headers={**keys.write_a, **same})
    b = await client.post(BASE, json=vm_body(), headers={**keys.write_b, **same})
    assert (a.status_code, b.status_code) == (201, 201), b.text
    assert (a.json()["project"], b.json()["project"]) == (A, B)
    assert a.json()["id"] != b.json()["id"] and "Idempotent-Replayed" not in b.headers
