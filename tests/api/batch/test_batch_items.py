"""BatchVMs: an item's own invalid values (the upsert's name, its `vm` or `patch` body) are that
item's 400; only the envelope's shape fails the batch, and the OpenAPI document says exactly that
(what it refuses is a 400 for the batch, what it accepts is a 200 with per-item results)."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest

from tests.api.helpers import BASE, BATCH, MISSING_ID, Client, assert_problem, vm_body

pytestmark = pytest.mark.usefixtures("clean")
BAD_NAMES = ["bad name!", "", "x" * 64, "web-01\n", "-web", "\u212ael"]


def _upsert(name: str) -> dict[str, Any]:
    return {"op": "upsert", "name": name, "vm": vm_body(name=name)}


@pytest.mark.parametrize("bad", BAD_NAMES, ids=[repr(n)[:12] for n in BAD_NAMES])
async def test_one_bad_upsert_name_is_that_items_400(client: Client, bad: str) -> None:
    ops = [_upsert(f"vm-{i}") for i in range(5)] + [_upsert(bad)]
    answer = await client.post(BATCH, json={"operations": ops})
    assert answer.status_code == 200, answer.text
    results = answer.json()["results"]
    assert [r["status"] for r in results] == [201] * 5 + [400]
    assert "name" in [e["field"] for e in results[5]["problem"]["errors"]]
    assert len((await client.get(BASE)).json()["items"]) == 5


async def test_in_an_atomic_batch_it_is_the_batch_400_naming_the_item(client: Client) -> None:
    ops = [_upsert("vm-0"), _upsert("bad name!"), _upsert("vm-2")]
    answer = await client.post(BATCH, json={"operations": ops, "atomic": True})
    problem = assert_problem(answer, 400)
    assert [r["status"] for r in problem["results"]] == [424, 400, 424]
    assert (await client.get(BASE)).json()["items"] == []


# Bodies an item refuses itself (200, that item 400) and envelopes the batch refuses (400).
PER_ITEM = {
    "patch-st201": {"op": "update", "id": MISSING_ID, "patch": {"name": "", "memory_mib": None}},
    "vm-values": {"op": "create", "vm": {"cpu_cores": 0, "memory_mib": 0}},
    "vm-empty": {"op": "replace", "id": MISSING_ID, "vm": {}},
    "upsert-name": _upsert("bad name!"),
    "upsert-vm-unknown-field": {"op": "upsert", "name": "a", "vm": {"x": 1}},
}
ENVELOPE = {
    "unknown-op": {"op": "rename", "id": MISSING_ID},
    "no-op": {"vm": vm_body()},
    "no-id": {"op": "update", "patch": {}},
    "vm-not-an-object": {"op": "create", "vm": "web"},
    "if-match-a-string": {"op": "delete", "id": MISSING_ID, "if_match": "1"},
    "if-match-zero": {"op": "delete", "id": MISSING_ID, "if_match": 0},
    "unknown-item-field": {"op": "delete", "id": MISSING_ID, "colour": "red"},
    "upsert-name-not-a-string": {"op": "upsert", "name": 5, "vm": {}},
}


@pytest.fixture(scope="module")
async def batch_schema(client: Client) -> jsonschema.Draft202012Validator:
    spec = (await client.get("/schema/openapi.json")).json()
    operation = spec["paths"][BATCH]["post"]
    ref = operation["requestBody"]["content"]["application/json"]["schema"]
    return jsonschema.Draft202012Validator({**ref, "components": spec["components"]})


@pytest.mark.parametrize("item", PER_ITEM.values(), ids=PER_ITEM.keys())
async def test_what_the_document_accepts_is_answered_per_item(
    client: Client, batch_schema: jsonschema.Draft202012Validator, item: dict[str, Any]
) -> None:
    body = {"operations": [item]}
    assert list(batch_schema.iter_errors(body)) == []
    answer = await client.post(BATCH, json=body)
    assert answer.status_code == 200, answer.text
    assert answer.json()["results"][0]["status"] in (400, 404)


@pytest.mark.parametrize("item", ENVELOPE.values(), ids=ENVELOPE.keys())
async def test_what_the_document_refuses_fails_the_batch(
    client: Client, batch_schema: jsonschema.Draft202012Validator, item: dict[str, Any]
) -> None:
    body = {"operations": [{"op": "create", "vm": vm_body()}, item]}
    assert list(batch_schema.iter_errors(body)) != []
    problem = assert_problem(await client.post(BATCH, json=body), 400)
    assert all(e["field"].startswith("operations[1]") for e in problem["errors"]), problem
    assert (await client.get(BASE)).json()["items"] == []
