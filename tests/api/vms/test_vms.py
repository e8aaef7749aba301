"""Every CRUD route and every error status, through the app (real MongoDB)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from tests.api.helpers import BASE, Client, assert_problem, create, vm_body

pytestmark = pytest.mark.usefixtures("clean")


async def test_create_returns_vm_location_and_etag(client: Client) -> None:
    response = await client.post(
        BASE, json=vm_body(ip_address="2001:DB8:0::1", labels={"env": "prod"}, description="x")
    )
    assert response.status_code == 201
    vm = response.json()
    assert response.headers["location"] == f"{BASE}/{vm['id']}"
    assert response.headers["etag"] == '"1"'
    assert len(vm["id"]) == 24
    assert vm["ip_address"] == "2001:db8::1"
    assert vm["status"] == "provisioning"
    assert vm["revision"] == 1
    assert vm["labels"] == {"env": "prod"}
    assert vm["created_at"].endswith("Z")
    assert vm["created_at"] == vm["updated_at"]


@pytest.mark.parametrize("status", ["provisioning", "running", "stopped"])
async def test_create_accepts_initial_statuses(client: Client, status: str) -> None:
    assert (await create(client, status=status))["status"] == status


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"cpu_cores": "2"}, "cpu_cores"),
        ({"cpu_cores": 2.5}, "cpu_cores"),  # 2.0 is the integer 2 in JSON (and is accepted)
        ({"cpu_cores": True}, "cpu_cores"),
        ({"cpu_cores": 0}, "cpu_cores"),
        ({"cpu_cores": 1025}, "cpu_cores"),
        ({"memory_mib": 127}, "memory_mib"),
        ({"memory_mib": 33554433}, "memory_mib"),
        ({"storage_gib": 0}, "storage_gib"),
        ({"storage_gib": 1048577}, "storage_gib"),
        ({"name": ""}, "name"),
        ({"name": "-web"}, "name"),
        ({"name": "web_"}, "name"),
        ({"name": "a" * 64}, "name"),
        ({"name": "web 01"}, "name"),
        ({"name": "web-01\n"}, "name"),
        ({"os": ""}, "os"),
        ({"os": "x" * 65}, "os"),
        ({"status": "suspended"}, "status"),
        ({"status": "error"}, "status"),
        ({"status": "RUNNING"}, "status"),
        ({"ip_address": "10.0.0.256"}, "ip_address"),
        ({"ip_address": "10.0.0"}, "ip_address"),
        ({"ip_address": 167772161}, "ip_address"),
        ({"labels": {"Env": "prod"}}, "labels"),
        ({"labels": {"env": 1}}, "labels"),
        ({"labels": {"env": "v" * 64}}, "labels"),
        ({"labels": {f"k{i}": "v" for i in range(65)}}, "labels"),
        ({"labels": ["env"]}, "labels"),
        ({"description": "d" * 1025}, "description"),
        ({"cpu_core": 2}, "cpu_core"),
        ({"id": "665f1c2e8b3e4a0012345678"}, "id"),
        ({"revision": 7}, "revision"),
        ({"created_at": "2024-01-01T00:00:00Z"}, "created_at"),
        ({"updated_at": "2024-01-01T00:00:00Z"}, "updated_at"),
    ],
)
async def test_create_rejects_bad_input_naming_the_field(
    client: Client, db: AsyncDatabase[dict[str, Any]], overrides: dict[str, Any], field: str
) -> None:
    response = await client.post(BASE, json=vm_body(**overrides))
    problem = assert_problem(response, 400)
    assert any(e["field"].split(".")[0].split("[")[0] == field for e in problem["errors"]), problem
    assert await db.vms.count_documents({}) == 0


async def test_missing_required_field_is_named(client: Client) -> None:
    body = vm_body()
    del body["os"]
    problem = assert_problem(await client.post(BASE, json=body), 400)
    assert "os" in problem["detail"]


@pytest.mark.parametrize("raw", [b"{", b"", b"[]", b"null", b'{"name": "a",}', b"\xff\xfe"])
async def test_malformed_json_is_400(client: Client, raw: bytes) -> None:
    response = await client.post(BASE, content=raw, headers={"content-type": "application/json"})
    assert_problem(response, 400)


async def test_body_over_1_mib_is_413(client: Client, db: AsyncDatabase[dict[str, Any]]) -> None:
    body = json.dumps(vm_body(description="x" * (2 * 1024 * 1024)))
    response = await client.post(BASE, content=body, headers={"content-type": "application/json"})
    assert_problem(response, 413)
    assert await db.vms.count_documents({}) == 0


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", None])
async def test_wrong_media_type_is_415(client: Client, content_type: str | None) -> None:
    headers = {"content-type": content_type} if content_type else {}
    response = await client.post(BASE, content=json.dumps(vm_body()), headers=headers)
    assert_problem(response, 415)


async def test_merge_patch_media_type_is_only_for_patch(client: Client) -> None:
    headers = {"content-type": "application/merge-patch+json"}
    assert_problem(await client.post(BASE, content=json.dumps(vm_body()), headers=headers), 415)
    vm = await create(client)
    response = await client.patch(
        f"{BASE}/{vm['id']}", content=json.dumps({"description": "merged"}), headers=headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["description"] == "merged"


async def test_name_is_unique_ignoring_case(client: Client) -> None:
    await create(client, name="web-01")
    problem = assert_problem(await client.post(BASE, json=vm_body(name="WEB-01")), 409)
    assert "WEB-01" in problem["detail"]


async def test_get_returns_vm_with_etag(client: Client) -> None:
    vm = await create(client)
    response = await client.get(f"{BASE}/{vm['id']}")
    assert response.status_code == 200
    assert response.json() == vm
    assert response.headers["etag"] == '"1"'


@pytest.mark.parametrize("vm_id", ["665f1c2e8b3e4a0012345678", "nope", "665f1c2e8b3e4a001234567z"])
async def test_unknown_or_malformed_id_is_404(client: Client, vm_id: str) -> None:
    for method in ("GET", "PUT", "PATCH", "DELETE"):
        body = vm_body() if method == "PUT" else {} if method == "PATCH" else None
        response = await client.request(method, f"{BASE}/{vm_id}", json=body)
        assert_problem(response, 404)


async def test_list_newest_first_with_pages_of_50(client: Client) -> None:
    ids = [(await create(client, name=f"vm-{i:03d}"))["id"] for i in range(55)]
    first = (await client.get(BASE)).json()
    assert [vm["id"] for vm in first["items"]] == ids[::-1][:50]
    assert first["next_page_token"]
    second = (await client.get(BASE, params={"page_token": first["next_page_token"]})).json()
    assert [vm["id"] for vm in second["items"]] == ids[::-1][50:]
    assert second["next_page_token"] is None


async def test_list_of_empty_inventory(client: Client) -> None:
    response = await client.get(BASE)
    assert response.status_code == 200
    assert response.json()["items"] == []
    assert response.json()["next_page_token"] is None


async def test_put_replaces_and_resets_omitted_optionals(client: Client) -> None:
    vm = await create(
        client, status="stopped", ip_address="10.0.0.1", labels={"a": "b"}, description="d"
    )
    body = vm_body(name="web-02", os="debian-12", cpu_cores=4, storage_gib=50)
    response = await client.put(f"{BASE}/{vm['id']}", json=body)
    assert response.status_code == 200, response.text
    new = response.json()
    assert response.headers["etag"] == '"2"'
    assert (new["name"], new["os"], new["cpu_cores"], new["storage_gib"]) == (
        "web-02", "debian-12", 4, 50,
    )  # fmt: skip
    assert new["status"] == "stopped"
    assert (new["ip_address"], new["labels"], new["description"]) == (None, {}, "")
    assert new["created_at"] == vm["created_at"]
    assert new["updated_at"] > vm["updated_at"]


async def test_put_requires_every_required_field(client: Client) -> None:
    vm = await create(client)
    body = vm_body()
    del body["cpu_cores"]
    assert_problem(await client.put(f"{BASE}/{vm['id']}", json=body), 400)


async def test_put_status_follows_transitions(client: Client) -> None:
    vm = await create(client)
    problem = assert_problem(
        await client.put(f"{BASE}/{vm['id']}", json=vm_body(status="stopped")), 409
    )
    assert problem["current_status"] == "provisioning"
    assert problem["allowed_transitions"] == ["error", "running"]


async def test_patch_merges(client: Client) -> None:
    vm = await create(client, ip_address="10.0.0.1", labels={"env": "prod", "tier": "web"})
    response = await client.patch(
        f"{BASE}/{vm['id']}", json={"ip_address": None, "labels": {"tier": None, "team": "x"}}
    )
    assert response.status_code == 200, response.text
    new = response.json()
    assert new["ip_address"] is None
    assert new["labels"] == {"env": "prod", "team": "x"}
    assert new["revision"] == 2
    assert response.headers["etag"] == '"2"'


@pytest.mark.parametrize(
    "patch",
    [{"name": None}, {"cpu_cores": None}, {"status": None}, {"cpu_cores": "4"}, {"bogus": 1},
     {"revision": 3}, {"labels": {"BAD": "x"}}, {"ip_address": "::g"}],
)  # fmt: skip
async def test_patch_rejects_bad_input(client: Client, patch: dict[str, Any]) -> None:
    vm = await create(client)
    assert_problem(await client.patch(f"{BASE}/{vm['id']}", json=patch), 400)
    assert (await client.get(f"{BASE}/{vm['id']}")).json() == vm


async def test_invalid_transition_names_current_and_allowed(client: Client) -> None:
    vm = await create(client, status="stopped")
    problem = assert_problem(
        await client.patch(f"{BASE}/{vm['id']}", json={"status": "suspended"}), 409
    )
    assert problem["current_status"] == "stopped"
    assert problem["allowed_transitions"] == ["error", "running"]


async def test_resize_while_running_is_409(client: Client) -> None:
    vm = await create(client, status="running")
    assert_problem(await client.patch(f"{BASE}/{vm['id']}", json={"cpu_cores": 8}), 409)
    assert_problem(await client.patch(f"{BASE}/{vm['id']}", json={"storage_gib": 10}), 409)
    ok = await client.patch(f"{BASE}/{vm['id']}", json={"storage_gib": 100})
    assert ok.json()["storage_gib"] == 100


async def test_rename_to_taken_name_is_409(client: Client) -> None:
    await create(client, name="a1")
    vm = await create(client, name="b1")
    assert_problem(await client.patch(f"{BASE}/{vm['id']}", json={"name": "A1"}), 409)


async def test_delete(client: Client) -> None:
    vm = await create(client)
    response = await client.delete(f"{BASE}/{vm['id']}")
    assert response.status_code == 204
    assert response.content == b""
    assert_problem(await client.get(f"{BASE}/{vm['id']}"), 404)


@pytest.mark.parametrize("status", ["running", "suspended"])
async def test_delete_running_needs_force(client: Client, status: str) -> None:
    vm = await create(client, status="running")
    if status == "suspended":
        await client.patch(f"{BASE}/{vm['id']}", json={"status": "suspended"})
    assert_problem(await client.delete(f"{BASE}/{vm['id']}"), 409)
    assert (await client.get(f"{BASE}/{vm['id']}")).status_code == 200
    assert (await client.delete(f"{BASE}/{vm['id']}", params={"force": "true"})).status_code == 204


async def test_unknown_route_and_method_are_problems(client: Client) -> None:
    assert_problem(await client.get("/api/v1/nothing"), 404)
    assert_problem(await client.post(f"{BASE}/665f1c2e8b3e4a0012345678", json={}), 405)


async def test_unexpected_error_is_500_without_details(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def boom(*_: Any) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(client.app.state.vm_service, "get_vm", boom)
    problem = assert_problem(await client.get(f"{BASE}/665f1c2e8b3e4a0012345678"), 500)
    assert "secret" not in json.dumps(problem)
    assert "Traceback" not in json.dumps(problem)


async def test_health(client: Client) -> None:
    assert (await client.get("/health/live")).json() == {"status": "ok"}
    assert (await client.get("/health/ready")).json() == {"status": "ok"}
