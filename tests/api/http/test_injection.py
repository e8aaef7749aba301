"""Hostile input: operators, `$` keys, regex metacharacters, repeats, huge or malformed bodies.

Every answer is a 4xx (or a literal match), never a 500, and nothing is written.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from pymongo.asynchronous.database import AsyncDatabase

from tests.api.helpers import BASE, assert_problem, vm_body

OPERATORS: list[Any] = [{"$ne": ""}, {"$gt": ""}, {"$where": "1"}, {"$regex": ".*"}]
FIELDS = [
    "name", "status", "os", "cpu_cores", "memory_mib", "storage_gib",
    "ip_address", "labels", "description",
]  # fmt: skip


@pytest.fixture
async def existing(client: AsyncTestClient[Any], clean: AsyncDatabase[dict[str, Any]]) -> Any:
    r = await client.post(BASE, json=vm_body(name="target-01", labels={"env": "prod"}))
    assert r.status_code == 201, r.text
    return r.json()


async def snapshot(db: AsyncDatabase[dict[str, Any]]) -> list[dict[str, Any]]:
    return [doc async for doc in db.vms.find({}).sort("_id", 1)]


def assert_4xx(r: Any) -> None:
    assert 400 <= r.status_code < 500, (r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize("operator", OPERATORS, ids=lambda o: next(iter(o)))
async def test_operators_in_every_field_are_rejected(
    client: AsyncTestClient[Any], existing: Any, clean: AsyncDatabase[dict[str, Any]], operator: Any
) -> None:
    before = await snapshot(clean)
    url = f"{BASE}/{existing['id']}"
    for field in FIELDS:
        assert_4xx(await client.post(BASE, json={**vm_body(name="new-01"), field: operator}))
        assert_4xx(await client.put(url, json={**vm_body(name="target-01"), field: operator}))
        assert_4xx(await client.patch(url, json={field: operator}))
        assert_4xx(await client.patch(url, json={"labels": {"env": operator}}))
    assert await snapshot(clean) == before


@pytest.mark.parametrize("key", ["$where", "$set", "$ne", "a.$b", "env.x", "$", "."])
async def test_dollar_and_dot_label_keys_are_rejected(
    client: AsyncTestClient[Any], existing: Any, clean: AsyncDatabase[dict[str, Any]], key: str
) -> None:
    before = await snapshot(clean)
    url = f"{BASE}/{existing['id']}"
    r = await client.post(BASE, json=vm_body(name="new-01", labels={key: "1"}))
    if key == "env.x":  # dots are allowed in label keys: stored literally as a key
        assert r.status_code == 201, r.text
        doc = await clean.vms.find_one({"name": "new-01"})
        assert doc is not None and doc["labels"] == {"env.x": "1"}
        return
    assert_problem(r, 400)
    assert_problem(await client.patch(url, json={"labels": {key: "1"}}), 400)
    assert_problem(await client.put(url, json=vm_body(name="target-01", labels={key: "1"})), 400)
    assert await snapshot(clean) == before


@pytest.mark.parametrize("vm_id", ['{"$ne": ""}', "$where", ".*", "%00", "'; db.dropDatabase()"])
async def test_operator_like_ids_are_not_found(
    client: AsyncTestClient[Any], existing: Any, clean: AsyncDatabase[dict[str, Any]], vm_id: str
) -> None:
    before = await snapshot(clean)
    for method in ("GET", "DELETE"):
        assert_problem(await client.request(method, f"{BASE}/{vm_id}"), 404)
    assert_problem(await client.patch(f"{BASE}/{vm_id}", json={"os": "x"}), 404)
    assert await snapshot(clean) == before


@pytest.mark.parametrize("prefix", [".*", "^", "a|b", "(", "[", "\\", "$", "*", "target.*"])
async def test_regex_metacharacters_in_name_prefix_match_literally(
    client: AsyncTestClient[Any], existing: Any, prefix: str
) -> None:
    r = await client.get(BASE, params={"name_prefix": prefix})
    assert r.status_code in (200, 400), r.text
    if r.status_code == 200:
        assert r.json()["items"] == []  # no VM's name starts with these characters literally


@pytest.mark.parametrize(
    "query",
    [
        "page_size=1&page_size=2",
        "page_size=" + "9" * 5000,
        "page_token=" + "A" * 5000,
        "page_size=-1",
        "page_size=0",
        "page_size=501",
        "page_size=1e3",
        "page_size=%00",
        "page_token=%FF%FE",
        "page_token=" + "&".join(["page_token=x"] * 300),
        "x=" + "y" * 3000 + "&" + "&".join(f"p{i}=1" for i in range(300)),
    ],
    ids=[
        "repeated", "huge-int", "huge-token", "negative", "zero", "too-big", "float",
        "nul", "bad-utf8", "many-repeats", "many-params",
    ],
)  # fmt: skip
async def test_bad_query_parameters_are_4xx(
    client: AsyncTestClient[Any], existing: Any, query: str
) -> None:
    r = await client.get(f"{BASE}?{query}")
    assert_4xx(r)


async def test_oversized_headers_are_431(client: AsyncTestClient[Any]) -> None:
    assert_problem(await client.get(BASE, headers={"X-Filler": "x" * 20_000}), 431)


@pytest.mark.parametrize(
    "body",
    [
        b"\xff\xfe\xfd",
        b'{"name": "\xc3\x28", "os": "x", "cpu_cores": 1, "memory_mib": 512, "storage_gib": 1}',
        b"[" * 10_000 + b"]" * 10_000,
        b'{"labels": ' + b'{"a": ' * 5_000 + b"1" + b"}" * 5_001,
        b'{"name": "a", "name": {"$ne": ""}}',
        b"",
        b"null",
        b"[]",
        b'"$where"',
        b'{"name": "nul\\u0000", "os": "x", "cpu_cores": 1, "memory_mib": 512, "storage_gib": 1}',
    ],
    ids=[
        "bad-utf8", "bad-utf8-in-string", "deep-array", "deep-object", "duplicate-key",
        "empty", "null", "array", "string", "nul-in-name",
    ],
)  # fmt: skip
async def test_malformed_bodies_are_400(
    client: AsyncTestClient[Any], existing: Any, clean: AsyncDatabase[dict[str, Any]], body: bytes
) -> None:
    before = await snapshot(clean)
    headers = {"Content-Type": "application/json"}
    assert_problem(await client.post(BASE, content=body, headers=headers), 400)
    url = f"{BASE}/{existing['id']}"
    assert_problem(await client.put(url, content=body, headers=headers), 400)
    assert_problem(await client.patch(url, content=body, headers=headers), 400)
    assert await snapshot(clean) == before


async def test_body_over_one_mib_is_413(
    client: AsyncTestClient[Any], clean: AsyncDatabase[dict[str, Any]]
) -> None:
    body = json.dumps(vm_body(description="x" * (1024 * 1024 + 1)))
    r = await client.post(BASE, content=body, headers={"Content-Type": "application/json"})
    assert_problem(r, 413)
    assert await clean.vms.count_documents({}) == 0
