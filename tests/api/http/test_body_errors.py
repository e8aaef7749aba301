"""A bad request body is one 400 naming every field at fault (schema and rules alike), on every
route that takes a VM body; enum errors list the allowed values; 413 names the limit; a name
conflict names the VM holding the name."""

from __future__ import annotations

import json
from typing import Any

import pytest

from service.http.bodies import MAX_BODY_BYTES
from tests.api.helpers import BASE, Client, assert_problem, vm_body

pytestmark = pytest.mark.usefixtures("clean")

# (body overrides, the fields the 400 must name): schema errors, rule errors, both at once.
CASES = {
    "the-issue's-example": (
        {"cpu_cores": 0, "memory_mib": 0, "storage_gib": 0, "ip_address": "x"},
        {"cpu_cores", "memory_mib", "storage_gib", "ip_address"},
    ),
    "types-unknown-and-enum": (
        {"cpu_cores": "2", "storage_gib": 1.5, "status": "paused", "colour": "red"},
        {"cpu_cores", "storage_gib", "status", "colour"},
    ),
    "schema-and-rules": (
        {"name": "web-01\n", "ip_address": "10.0.0", "memory_mib": 64, "labels": {"A": "b"}},
        {"name", "ip_address", "memory_mib", "labels.A"},
    ),
    "rules-only": (  # (what the schema's patterns let through: `$` before a final newline)
        {"name": "web-01\n", "ip_address": "fe80::1%eth0", "labels": {"a\n": "x", "b\n": "y"}},
        {"name", "ip_address", "labels.a\n", "labels.b\n"},
    ),
    "a-float-that-is-an-integer-beside-errors": (
        {"cpu_cores": 2.0, "memory_mib": 0, "os": ""},
        {"memory_mib", "os"},
    ),
}


def _named(problem: dict[str, Any]) -> set[str]:
    return {e["field"] for e in problem["errors"]}


async def _vm(client: Client) -> dict[str, Any]:
    answer = await client.post(BASE, json=vm_body(name="target", status="stopped"))
    assert answer.status_code == 201, answer.text
    vm: dict[str, Any] = answer.json()
    return vm


@pytest.mark.parametrize(("overrides", "fields"), CASES.values(), ids=CASES.keys())
@pytest.mark.parametrize("route", ["CreateVM", "ReplaceVM", "UpsertVM", "UpdateVM", "batch"])
async def test_every_field_at_fault_is_named_at_once(
    client: Client, route: str, overrides: dict[str, Any], fields: set[str]
) -> None:
    vm = await _vm(client)
    body = vm_body(**overrides)
    path = {"CreateVM": BASE, "ReplaceVM": f"{BASE}/{vm['id']}", "UpdateVM": f"{BASE}/{vm['id']}"}
    if route == "UpdateVM":
        body = {k: v for k, v in body.items() if k in overrides}
        answer = await client.patch(path[route], json=body)
    elif route == "UpsertVM":
        answer = await client.put(f"{BASE}/by-name/web-01", json=body)
    elif route == "batch":
        item = {"op": "create", "vm": body}
        batch = await client.post(f"{BASE}/batch", json={"operations": [item]})
        assert batch.status_code == 200, batch.text
        result = batch.json()["results"][0]
        assert result["status"] == 400, result
        answer_problem = result["problem"]
        assert _named(answer_problem) == fields, answer_problem
        return
    elif route == "ReplaceVM":
        answer = await client.put(path[route], json=body)
    else:
        answer = await client.post(path[route], json=body)
    problem = assert_problem(answer, 400)
    assert _named(problem) == fields, problem
    for field in fields:
        assert field in problem["detail"]
    stored = (await client.get(f"{BASE}/{vm['id']}")).json()
    assert stored["revision"] == 1  # nothing written


async def test_an_enum_error_lists_the_allowed_values(client: Client) -> None:
    problem = assert_problem(await client.post(BASE, json=vm_body(status="paused")), 400)
    [error] = problem["errors"]
    assert error["field"] == "status"
    for allowed in ("provisioning", "running", "stopped"):
        assert allowed in error["message"]
    vm = await _vm(client)
    patched = assert_problem(await client.patch(f"{BASE}/{vm['id']}", json={"status": "on"}), 400)
    for allowed in ("provisioning", "running", "stopped", "suspended", "error"):
        assert allowed in patched["errors"][0]["message"]


async def test_missing_and_unknown_fields_are_all_named(client: Client) -> None:
    body = {"name": "web-01", "cpu": 2, "mem": 4096}
    problem = assert_problem(await client.post(BASE, json=body), 400)
    assert _named(problem) == {"os", "cpu_cores", "memory_mib", "storage_gib", "cpu", "mem"}


async def test_a_413_names_the_limit(client: Client) -> None:
    body = json.dumps(vm_body(description="x" * (MAX_BODY_BYTES + 1)))
    answer = await client.post(BASE, content=body, headers={"content-type": "application/json"})
    problem = assert_problem(answer, 413)
    assert str(MAX_BODY_BYTES) in problem["detail"]


async def test_a_name_conflict_names_the_vm_holding_the_name(client: Client) -> None:
    holder = (await client.post(BASE, json=vm_body(name="taken"))).json()
    created = assert_problem(await client.post(BASE, json=vm_body(name="TAKEN")), 409)
    assert created["holder_id"] == holder["id"]
    other = (await client.post(BASE, json=vm_body(name="other"))).json()
    renamed = await client.patch(f"{BASE}/{other['id']}", json={"name": "Taken"})
    assert assert_problem(renamed, 409)["holder_id"] == holder["id"]
    batch = await client.post(
        f"{BASE}/batch", json={"operations": [{"op": "create", "vm": vm_body(name="taken")}]}
    )
    assert batch.json()["results"][0]["problem"]["holder_id"] == holder["id"]
