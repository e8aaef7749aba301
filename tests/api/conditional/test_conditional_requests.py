"""ETag, If-Match (412), If-None-Match (304) and REQUIRE_IF_MATCH (428)."""

from __future__ import annotations

import pytest

from tests.api.helpers import BASE, Client, assert_problem, create, vm_body

pytestmark = pytest.mark.usefixtures("clean")


async def test_every_single_vm_response_carries_the_revision_as_etag(client: Client) -> None:
    vm = await create(client)
    path = f"{BASE}/{vm['id']}"
    assert (await client.get(path)).headers["etag"] == '"1"'
    assert (await client.patch(path, json={"os": "debian-12"})).headers["etag"] == '"2"'
    replaced = await client.put(path, json=vm_body(os="debian-13"))
    assert replaced.headers["etag"] == '"3"'


@pytest.mark.parametrize("method", ["PATCH", "PUT", "DELETE"])
async def test_stale_if_match_is_412_naming_the_current_revision(
    client: Client, method: str
) -> None:
    vm = await create(client)
    path = f"{BASE}/{vm['id']}"
    await client.patch(path, json={"os": "debian-12"})
    body = {"PATCH": {"os": "x"}, "PUT": vm_body(os="x"), "DELETE": None}[method]
    response = await client.request(method, path, json=body, headers={"If-Match": '"1"'})
    problem = assert_problem(response, 412)
    assert problem["current_revision"] == 2
    current = (await client.get(path)).json()
    assert (current["os"], current["revision"]) == ("debian-12", 2)


@pytest.mark.parametrize("header", ['"2"', "*", '"7", "2"', ' "1" ,"2" '])
async def test_matching_if_match_writes(client: Client, header: str) -> None:
    vm = await create(client)
    path = f"{BASE}/{vm['id']}"
    await client.patch(path, json={"os": "debian-12"})
    response = await client.patch(path, json={"os": "debian-13"}, headers={"If-Match": header})
    assert response.status_code == 200, response.text
    assert response.json()["revision"] == 3


@pytest.mark.parametrize("header", ['W/"1"', '"abc"', '"01"', '"0"'])
async def test_if_match_never_matches_weak_or_foreign_tags(client: Client, header: str) -> None:
    vm = await create(client)
    response = await client.patch(
        f"{BASE}/{vm['id']}", json={"os": "x"}, headers={"If-Match": header}
    )
    assert assert_problem(response, 412)["current_revision"] == 1


@pytest.mark.parametrize("header", ["1", "", '"1', "abc, *"])
async def test_malformed_if_match_is_400_naming_the_header(client: Client, header: str) -> None:
    vm = await create(client)
    response = await client.patch(
        f"{BASE}/{vm['id']}", json={"os": "x"}, headers={"If-Match": header}
    )
    assert_problem(response, 400, field="If-Match")


async def test_delete_with_if_match(client: Client) -> None:
    vm = await create(client)
    path = f"{BASE}/{vm['id']}"
    assert (await client.delete(path, headers={"If-Match": '"1"'})).status_code == 204
    assert_problem(await client.get(path), 404)
    assert_problem(await client.delete(path, headers={"If-Match": "*"}), 404)


@pytest.mark.parametrize("header", ['"1"', 'W/"1"', "*", '"5", "1"'])
async def test_if_none_match_on_get_is_304_while_unchanged(client: Client, header: str) -> None:
    vm = await create(client)
    response = await client.get(f"{BASE}/{vm['id']}", headers={"If-None-Match": header})
    assert response.status_code == 304
    assert response.content == b""
    assert response.headers["etag"] == '"1"'


async def test_if_none_match_after_a_change_returns_the_new_vm(client: Client) -> None:
    vm = await create(client)
    path = f"{BASE}/{vm['id']}"
    await client.patch(path, json={"os": "debian-12"})
    response = await client.get(path, headers={"If-None-Match": '"1"'})
    assert response.status_code == 200
    assert response.json()["os"] == "debian-12"
    assert response.headers["etag"] == '"2"'


async def test_if_none_match_on_a_missing_vm_is_404(client: Client) -> None:
    response = await client.get(f"{BASE}/665f1c2e8b3e4a0012345678", headers={"If-None-Match": "*"})
    assert_problem(response, 404)


@pytest.mark.parametrize("method", ["PATCH", "PUT", "DELETE"])
async def test_require_if_match_makes_a_write_without_it_428(
    strict_client: Client, method: str
) -> None:
    vm = await create(strict_client)
    path = f"{BASE}/{vm['id']}"
    body = {"PATCH": {"os": "x"}, "PUT": vm_body(os="x"), "DELETE": None}[method]
    problem = assert_problem(await strict_client.request(method, path, json=body), 428)
    assert "If-Match" in problem["detail"]
    assert (await strict_client.get(path)).json()["revision"] == 1
    response = await strict_client.request(method, path, json=body, headers={"If-Match": '"1"'})
    assert response.status_code in (200, 204), response.text


async def test_require_if_match_accepts_star_and_leaves_reads_and_creates_alone(
    strict_client: Client,
) -> None:
    vm = await create(strict_client)
    path = f"{BASE}/{vm['id']}"
    assert (await strict_client.get(path)).status_code == 200
    response = await strict_client.patch(path, json={"os": "x"}, headers={"If-Match": "*"})
    assert response.status_code == 200, response.text


async def test_the_openapi_spec_declares_the_headers_and_statuses(client: Client) -> None:
    spec = (await client.get("/schema/openapi.json")).json()
    paths = spec["paths"]
    vm_path = paths["/api/v1/vms/{vm_id}"]
    for method in ("put", "patch", "delete"):
        operation = vm_path[method]
        assert {"404", "409", "412", "422", "428"} <= set(operation["responses"])
        headers = {p["name"] for p in operation["parameters"] if p["in"] == "header"}
        assert {"If-Match", "Idempotency-Key"} <= headers
    assert {"409", "422"} <= set(paths["/api/v1/vms"]["post"]["responses"])
    assert "Idempotent-Replayed" in vm_path["patch"]["responses"]["200"]["headers"]
    get = vm_path["get"]
    assert "ETag" in get["responses"]["200"]["headers"]
    assert "304" in get["responses"]
    assert "If-None-Match" in {p["name"] for p in get["parameters"]}
    events = paths["/api/v1/vms/{vm_id}/events"]["get"]
    assert events["operationId"] == "ListVMEvents"
    assert {"200", "400", "404"} <= set(events["responses"])
