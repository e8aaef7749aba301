"""UpsertVM (PUT /api/v1/vms/by-name/{name}): create or replace by name, preconditions, races."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from pymongo.asynchronous.database import AsyncDatabase

from service.domain.schemas import VMPatch
from tests.api.helpers import BASE, assert_problem, vm_body

pytestmark = pytest.mark.usefixtures("clean")
BY_NAME = f"{BASE}/by-name"


async def test_creates_201_then_replaces_200_ignoring_case(client: AsyncTestClient[Any]) -> None:
    created = await client.put(f"{BY_NAME}/web-01", json=vm_body(name="web-01"))
    assert created.status_code == 201, created.text
    vm = created.json()
    assert created.headers["location"] == f"{BASE}/{vm['id']}"
    assert created.headers["etag"] == '"1"'
    assert vm["status"] == "provisioning" and vm["revision"] == 1

    replaced = await client.put(
        f"{BY_NAME}/WEB-01", json=vm_body(name="Web-01", cpu_cores=4, labels={"a": "b"})
    )
    assert replaced.status_code == 200, replaced.text
    assert replaced.headers["etag"] == '"2"'
    again = replaced.json()
    assert (again["id"], again["name"], again["cpu_cores"]) == (vm["id"], "Web-01", 4)
    assert (await client.get(f"{BASE}/{vm['id']}")).json() == again
    listed = (await client.get(BASE)).json()["items"]
    assert [v["id"] for v in listed] == [vm["id"]]


async def test_same_body_again_changes_nothing(client: AsyncTestClient[Any]) -> None:
    first = await client.put(f"{BY_NAME}/db-01", json=vm_body(name="db-01"))
    second = await client.put(f"{BY_NAME}/db-01", json=vm_body(name="db-01"))
    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json() == first.json()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (vm_body(name="other"), "name"),
        (vm_body(name="web-01", status="suspended"), "status"),
        (vm_body(name="web-01", cpu_cores="2"), "cpu_cores"),
        (vm_body(name="web-01", extra=1), "extra"),
    ],
    ids=["name-differs", "status-a-new-vm-cannot-have", "wrong-type", "unknown-field"],
)
async def test_bad_bodies_are_400_naming_the_field(
    client: AsyncTestClient[Any], body: dict[str, Any], field: str
) -> None:
    assert_problem(await client.put(f"{BY_NAME}/web-01", json=body), 400, field)
    assert (await client.get(BASE)).json()["items"] == []


async def test_replace_keeps_every_rule_of_replace_vm(client: AsyncTestClient[Any]) -> None:
    await client.put(f"{BY_NAME}/app", json=vm_body(name="app", status="running"))
    shrink = await client.put(f"{BY_NAME}/app", json=vm_body(name="app", storage_gib=1))
    assert_problem(shrink, 409)
    back = await client.put(f"{BY_NAME}/app", json=vm_body(name="app", status="provisioning"))
    problem = assert_problem(back, 409)
    assert problem["current_status"] == "running"


async def test_if_none_match_star_creates_only(client: AsyncTestClient[Any]) -> None:
    star = {"If-None-Match": "*"}
    created = await client.put(f"{BY_NAME}/new", json=vm_body(name="new"), headers=star)
    assert created.status_code == 201
    again = await client.put(f"{BY_NAME}/NEW", json=vm_body(name="NEW"), headers=star)
    assert assert_problem(again, 412)["current_revision"] == 1
    bad = await client.put(
        f"{BY_NAME}/new", json=vm_body(name="new"), headers={"If-None-Match": '"1"'}
    )
    assert_problem(bad, 400, "If-None-Match")


async def test_if_match_needs_the_vm_at_that_revision(client: AsyncTestClient[Any]) -> None:
    missing = await client.put(
        f"{BY_NAME}/gone", json=vm_body(name="gone"), headers={"If-Match": '"1"'}
    )
    assert "current_revision" not in assert_problem(missing, 412)
    await client.put(f"{BY_NAME}/gone", json=vm_body(name="gone"))
    stale = await client.put(
        f"{BY_NAME}/gone", json=vm_body(name="gone", cpu_cores=8), headers={"If-Match": '"7"'}
    )
    assert assert_problem(stale, 412)["current_revision"] == 1
    ok = await client.put(
        f"{BY_NAME}/gone", json=vm_body(name="gone", cpu_cores=8), headers={"If-Match": '"1"'}
    )
    assert ok.status_code == 200 and ok.json()["revision"] == 2


async def test_racing_upserts_of_one_name_end_in_one_vm(
    client: AsyncTestClient[Any], db: AsyncDatabase[dict[str, Any]]
) -> None:
    answers = await asyncio.gather(
        *(
            client.put(
                f"{BY_NAME}/race", json=vm_body(name="RACE" if i % 2 else "race", cpu_cores=i + 1)
            )
            for i in range(20)
        )
    )
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200] * 19 + [201], [a.text for a in answers]
    assert await db.vms.count_documents({"name_key": "race"}) == 1
    assert len({a.json()["id"] for a in answers}) == 1


async def test_events_record_the_create_and_the_replace(client: AsyncTestClient[Any]) -> None:
    vm = (await client.put(f"{BY_NAME}/hist", json=vm_body(name="hist"))).json()
    await client.put(f"{BY_NAME}/hist", json=vm_body(name="hist", cpu_cores=3))
    events = (await client.get(f"{BASE}/{vm['id']}/events")).json()["items"]
    assert [e["action"] for e in events] == ["updated", "created"]
    assert events[0]["changes"] == {"cpu_cores": {"before": 2, "after": 3}}
    assert {e["actor"] for e in events} == {"test-admin"}


async def test_static_segments_are_not_taken_for_vm_ids(client: AsyncTestClient[Any]) -> None:
    vm = (await client.post(BASE, json=vm_body(name="batch"))).json()
    assert (await client.get(f"{BASE}/{vm['id']}")).json()["name"] == "batch"
    export = await client.get(f"{BASE}/export")
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("application/x-ndjson")
    batch = await client.post(f"{BASE}/batch", json={"operations": []})
    assert batch.status_code == 200 and batch.json() == {"results": []}
    upsert = await client.put(f"{BY_NAME}/batch", json=vm_body(name="batch", cpu_cores=6))
    assert upsert.status_code == 200 and upsert.json()["id"] == vm["id"]
    for name in ("export", "batch", "by-name"):
        assert (await client.get(f"{BASE}/{name}/events")).status_code in (404, 405)


async def test_if_match_star_needs_a_vm_of_that_name(client: AsyncTestClient[Any]) -> None:
    star = {"If-Match": "*"}
    missing = await client.put(f"{BY_NAME}/none", json=vm_body(name="none"), headers=star)
    assert "current_revision" not in assert_problem(missing, 412)
    assert (await client.get(BASE)).json()["items"] == []
    await client.put(f"{BY_NAME}/none", json=vm_body(name="none"))
    replaced = await client.put(
        f"{BY_NAME}/NONE", json=vm_body(name="none", cpu_cores=4), headers=star
    )
    assert replaced.status_code == 200 and replaced.json()["cpu_cores"] == 4


@pytest.mark.parametrize(
    "path_name",
    ["%E2%84%AAel-x", "-kel-x", "kel-x-", "kel%20x", "k" * 64, "kel-x%0A"],
    ids=["kelvin-sign", "leading-dash", "trailing-dash", "space", "too-long", "newline"],
)
async def test_the_path_name_follows_the_name_rules(
    client: AsyncTestClient[Any], path_name: str
) -> None:
    """The body's name matches the path's ignoring case, yet the path's breaks the rules."""
    from urllib.parse import unquote

    body = vm_body(name=unquote(path_name).lower().strip().replace("\u212a", "k"))
    answer = await client.put(f"{BY_NAME}/{path_name}", json=body)
    assert_problem(answer, 400, "name")
    assert (await client.get(BASE)).json()["items"] == []


async def test_an_upsert_racing_a_rename_is_one_of_the_two_serial_orders(
    client: AsyncTestClient[Any], db: AsyncDatabase[dict[str, Any]]
) -> None:
    """PATCH renames X away from `n` while PUT by-name/n replaces: either the rename came first
    (the upsert creates a new `n`) or the replace did (X, renamed, carries the replace's fields).
    Never does the upsert undo the acknowledged rename."""
    orders = set()
    for trial in range(40):
        name = f"n-{trial}"
        x = (await client.post(BASE, json=vm_body(name=name))).json()
        renamed, upserted = await asyncio.gather(
            client.patch(f"{BASE}/{x['id']}", json={"name": f"{name}-renamed"}),
            client.put(f"{BY_NAME}/{name}", json=vm_body(name=name, description="put")),
        )
        assert renamed.status_code == 200, renamed.text
        now = (await client.get(f"{BASE}/{x['id']}")).json()
        assert now["name"] == f"{name}-renamed", (trial, now)
        if upserted.status_code == 201:  # the rename first: a new VM has the name
            orders.add("rename-first")
            assert upserted.json()["id"] != x["id"]
            assert now["description"] == ""
        else:  # the replace first: the rename applies to the replaced VM
            orders.add("replace-first")
            assert upserted.status_code == 200, upserted.text
            assert upserted.json()["id"] == x["id"]
            assert now["description"] == "put"
            assert await db.vms.count_documents({"name_key": name}) == 0
        events = (await client.get(f"{BASE}/{x['id']}/events")).json()["items"]
        names = [e["changes"]["name"]["after"] for e in events if "name" in e["changes"]]
        assert names[0] == f"{name}-renamed", events
    assert orders  # (which ones occur depends on scheduling)


@pytest.mark.parametrize("moment", ["after-the-name-lookup", "after-the-replace-read"])
async def test_an_upsert_does_not_replace_a_vm_renamed_meanwhile(
    client: AsyncTestClient[Any], monkeypatch: pytest.MonkeyPatch, moment: str
) -> None:
    """The rename lands at each point of the upsert where it once undid it: the upsert then
    finds no VM named `n` and creates one, as if the rename had come first."""
    x = (await client.post(BASE, json=vm_body(name="n"))).json()
    bulk = client.app.state.bulk_service
    vms = client.app.state.vm_service
    target, method = (
        (bulk.repo, "get_by_name") if moment.endswith("lookup") else (vms.repo, "get_by_id")
    )
    original = getattr(target, method)
    renames: list[str] = []

    async def then_rename(*args: Any, **kwargs: Any) -> Any:
        found = await original(*args, **kwargs)
        if not renames and getattr(found, "name", None) == "n":
            renames.append("started")  # (the rename reads too)
            renames.append((await vms.update_vm(x["id"], VMPatch(name="n-renamed"))).name)
        return found

    monkeypatch.setattr(target, method, then_rename)
    upserted = await client.put(f"{BY_NAME}/n", json=vm_body(name="n", description="put"))
    monkeypatch.undo()
    assert renames == ["started", "n-renamed"]
    assert upserted.status_code == 201, upserted.text
    assert upserted.json()["id"] != x["id"]
    now = (await client.get(f"{BASE}/{x['id']}")).json()
    assert (now["name"], now["description"], now["revision"]) == ("n-renamed", "", 2)
