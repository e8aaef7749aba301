"""The VM's `project`: where a create or upsert puts it, who may write there, names unique per
project ignoring case, and that it never changes afterwards."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.helpers import BASE, BATCH, Client, assert_problem, vm_body
from tests.api.project_scoping.conftest import A, B, Db, Keys, create_in

BY_NAME = f"{BASE}/by-name"


def _key(keys: Keys, who: str) -> dict[str, str]:
    return dict(getattr(keys, who))


@pytest.mark.parametrize(
    ("who", "project"),
    [("write_b", A), ("write_b", "default"), ("write_a", B), ("read_b", B), ("admin_b", A)],
)
async def test_writing_into_a_project_the_key_may_not_write_is_403(
    client: Client, keys: Keys, clean: Db, who: str, project: str
) -> None:
    headers = _key(keys, who)
    created = await client.post(BASE, json=vm_body(project=project), headers=headers)
    body = await client.put(f"{BY_NAME}/web-01", json=vm_body(project=project), headers=headers)
    query = await client.put(f"{BY_NAME}/web-01", json=vm_body(), params={"project": project},
                             headers=headers)  # fmt: skip
    for r in (created, body, query):
        problem = assert_problem(r, 403)
        if who != "read_b":  # a read key is refused for its scope, before any project
            assert "project" in [e["field"] for e in problem["errors"]]
            assert project in problem["detail"]
    assert await clean.vms.count_documents({}) == 0


@pytest.mark.parametrize(
    ("who", "home"), [("write_a", A), ("write_b", B), ("write_ab", A), ("write_all", "default")]
)
async def test_without_project_a_vm_goes_to_the_keys_first_project(
    client: Client, keys: Keys, who: str, home: str
) -> None:
    headers = _key(keys, who)
    assert (await create_in(client, headers, name="made"))["project"] == home
    upserted = await client.put(f"{BY_NAME}/up", json=vm_body(name="up"), headers=headers)
    assert upserted.status_code == 201 and upserted.json()["project"] == home
    ops = [{"op": "create", "vm": vm_body(name="batched")},
           {"op": "upsert", "name": "batch-up", "vm": vm_body(name="batch-up")}]  # fmt: skip
    r = await client.post(BATCH, json={"operations": ops}, headers=headers)
    assert [(x["status"], x["vm"]["project"]) for x in r.json()["results"]] == [(201, home)] * 2


async def test_a_key_of_two_projects_writes_into_either(client: Client, keys: Keys) -> None:
    assert (await create_in(client, keys.write_ab, project=B))["project"] == B
    query = await client.put(f"{BY_NAME}/q", json=vm_body(name="q"), params={"project": B},
                             headers=keys.write_ab)  # fmt: skip
    assert query.status_code == 201 and query.json()["project"] == B


@pytest.mark.parametrize("where", ["create", "upsert-body", "upsert-query", "batch"])
async def test_a_project_that_does_not_exist_is_400_naming_project(
    client: Client, keys: Keys, clean: Db, where: str
) -> None:
    headers = keys.write_all
    if where == "create":
        r = await client.post(BASE, json=vm_body(project="nowhere"), headers=headers)
    elif where == "upsert-body":
        r = await client.put(f"{BY_NAME}/web-01", json=vm_body(project="nowhere"), headers=headers)
    elif where == "upsert-query":
        r = await client.put(f"{BY_NAME}/web-01", json=vm_body(), params={"project": "nowhere"},
                             headers=headers)  # fmt: skip
    else:
        ops = [{"op": "create", "vm": vm_body(project="nowhere")}]
        answer = await client.post(BATCH, json={"operations": ops}, headers=headers)
        assert answer.status_code == 200, answer.text
        (item,) = answer.json()["results"]
        assert item["status"] == 400 and "project" in [
            e["field"] for e in item["problem"]["errors"]
        ]
        assert await clean.vms.count_documents({}) == 0
        return
    assert "nowhere" in assert_problem(r, 400, "project")["detail"]
    assert await clean.vms.count_documents({}) == 0


@pytest.mark.parametrize("bad", ["Team-A", "a_b", "", "-a", "a" * 64, "$ne"])
async def test_a_project_that_is_not_a_name_is_400(client: Client, keys: Keys, bad: str) -> None:
    r = await client.post(BASE, json=vm_body(project=bad), headers=keys.write_all)
    assert_problem(r, 400, "project")
    q = await client.put(f"{BY_NAME}/web-01", json=vm_body(), params={"project": bad},
                         headers=keys.write_all)  # fmt: skip
    assert_problem(q, 400)


async def test_one_name_in_two_projects_and_unique_ignoring_case_in_one(
    client: Client, keys: Keys
) -> None:
    in_a = await client.post(BASE, json=vm_body(name="web-01"), headers=keys.write_a)
    in_b = await client.post(BASE, json=vm_body(name="web-01"), headers=keys.write_b)
    by_all = await client.post(BASE, json=vm_body(name="WEB-01"), headers=keys.write_all)
    assert (in_a.status_code, in_b.status_code, by_all.status_code) == (201, 201, 201)
    assert [r.json()["project"] for r in (in_a, in_b, by_all)] == [A, B, "default"]
    again = await client.post(BASE, json=vm_body(name="Web-01", project=A), headers=keys.write_all)
    problem = assert_problem(again, 409)
    assert problem["type"].endswith("/name-conflict")
    assert problem["holder_id"] == in_a.json()["id"]
    # Renaming into a name of the same project only: B's VM may take A's other name.
    other_a = await create_in(client, keys.write_a, name="db-01")
    renamed = await client.patch(f"{BASE}/{in_b.json()['id']}", json={"name": "DB-01"},
                                 headers=keys.write_b)  # fmt: skip
    assert renamed.status_code == 200, renamed.text
    clash = await client.patch(f"{BASE}/{in_a.json()['id']}", json={"name": "db-01"},
                               headers=keys.write_a)  # fmt: skip
    assert assert_problem(clash, 409)["holder_id"] == other_a["id"]


async def test_upsert_by_name_works_per_project(client: Client, keys: Keys) -> None:
    a = await client.put(f"{BY_NAME}/app", json=vm_body(name="app"), params={"project": A},
                         headers=keys.write_all)  # fmt: skip
    b = await client.put(f"{BY_NAME}/APP", json=vm_body(name="APP", project=B),
                         headers=keys.write_all)  # fmt: skip
    assert (a.status_code, b.status_code) == (201, 201)
    again = await client.put(f"{BY_NAME}/App", json=vm_body(name="App", cpu_cores=8),
                             params={"project": B}, headers=keys.write_all)  # fmt: skip
    assert again.status_code == 200 and again.json()["id"] == b.json()["id"]
    got = await client.get(f"{BASE}/{a.json()['id']}")
    assert got.json()["cpu_cores"] == 2


@pytest.fixture
async def in_a(client: Client, keys: Keys) -> dict[str, Any]:
    """A VM of project A."""
    return await create_in(client, keys.write_a, name="fixed")


@pytest.mark.parametrize("other", [B, "default", "nowhere"])
@pytest.mark.parametrize("who", ["write_ab", "write_all"])
async def test_put_or_patch_naming_another_project_is_400(
    client: Client, keys: Keys, in_a: dict[str, Any], other: str, who: str
) -> None:
    path, headers = f"{BASE}/{in_a['id']}", _key(keys, who)
    put = await client.put(path, json=vm_body(name="fixed", project=other), headers=headers)
    patch = await client.patch(path, json={"project": other, "cpu_cores": 4}, headers=headers)
    for r in (put, patch):
        assert_problem(r, 400, "project")
    ops = [
        {"op": "replace", "id": in_a["id"], "vm": vm_body(name="fixed", project=other)},
        {"op": "update", "id": in_a["id"], "patch": {"project": other}},
    ]
    items = (await client.post(BATCH, json={"operations": ops}, headers=headers)).json()
    for item in items["results"]:
        assert item["status"] == 400 and "project" in [
            e["field"] for e in item["problem"]["errors"]
        ]
    assert (await client.get(f"{BASE}/{in_a['id']}")).json() == in_a


async def test_put_or_patch_naming_the_same_project_or_none_is_fine(
    client: Client, keys: Keys, in_a: dict[str, Any]
) -> None:
    path = f"{BASE}/{in_a['id']}"
    put = await client.put(path, json=vm_body(name="fixed", project=A, cpu_cores=3),
                           headers=keys.write_a)  # fmt: skip
    assert put.status_code == 200 and put.json()["project"] == A, put.text
    patch = await client.patch(path, json={"project": A, "cpu_cores": 4}, headers=keys.write_a)
    assert patch.status_code == 200 and patch.json()["project"] == A, patch.text
    bare = await client.put(path, json=vm_body(name="fixed", cpu_cores=5), headers=keys.write_a)
    assert bare.status_code == 200 and bare.json()["project"] == A, bare.text
    assert bare.json()["revision"] == 4


async def test_upsert_whose_query_and_body_disagree_is_400(
    client: Client, keys: Keys, in_a: dict[str, Any], clean: Db
) -> None:
    for name in ("fixed", "brand-new"):
        r = await client.put(f"{BY_NAME}/{name}", json=vm_body(name=name, project=B),
                             params={"project": A}, headers=keys.write_ab)  # fmt: skip
        assert_problem(r, 400, "project")
    same = await client.put(f"{BY_NAME}/fixed", json=vm_body(name="fixed", project=A, cpu_cores=6),
                            params={"project": A}, headers=keys.write_ab)  # fmt: skip
    assert same.status_code == 200 and same.json()["id"] == in_a["id"], same.text
    assert await clean.vms.count_documents({}) == 1
