"""Idempotency-Key: replay of the first response, 422 for a reused key, 409 while in flight."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from service.domain.apikeys import Scope
from service.storage.api_keys import ApiKeyRepository
from tests.api.helpers import BASE, Client, assert_problem, history_size, vm_body

pytestmark = pytest.mark.usefixtures("clean")
Db = AsyncDatabase[dict[str, Any]]


def key(value: str | bytes) -> dict[str, Any]:
    return {"Idempotency-Key": value}


async def test_a_retried_create_is_replayed_not_repeated(client: Client, db: Db) -> None:
    first = await client.post(BASE, json=vm_body(), headers=key("create-1"))
    assert first.status_code == 201
    assert "idempotent-replayed" not in first.headers
    retry = await client.post(BASE, json=vm_body(), headers=key("create-1"))
    assert retry.status_code == 201
    assert retry.headers["idempotent-replayed"] == "true"
    assert retry.json() == first.json()
    for header in ("location", "etag", "content-type"):
        assert retry.headers[header] == first.headers[header]
    assert await db.vms.count_documents({}) == 1
    assert await history_size(db) == 1


async def test_same_body_with_other_whitespace_and_key_order_is_the_same_request(
    client: Client,
) -> None:
    headers = {**key("create-2"), "content-type": "application/json"}
    first = await client.post(
        BASE, content=b'{"name":"a1","os":"o","cpu_cores":1,"memory_mib":128,"storage_gib":1}',
        headers=headers,
    )  # fmt: skip
    retry = await client.post(
        BASE,
        content=b'{ "storage_gib": 1, "memory_mib": 128, "cpu_cores": 1, "os": "o", "name": "a1" }',
        headers=headers,
    )
    assert first.status_code == retry.status_code == 201
    assert retry.headers["idempotent-replayed"] == "true"


async def test_the_same_key_for_a_different_request_is_422(client: Client, db: Db) -> None:
    await client.post(BASE, json=vm_body(), headers=key("k"))
    problem = assert_problem(
        await client.post(BASE, json=vm_body(name="other"), headers=key("k")), 422
    )
    assert "k" in problem["detail"]
    vm_id = (await db.vms.find_one({}) or {})["_id"]
    response = await client.patch(f"{BASE}/{vm_id}", json={"os": "x"}, headers=key("k"))
    assert_problem(response, 422)
    assert await db.vms.count_documents({}) == 1


async def test_a_retry_while_the_first_is_in_flight_is_409(client: Client, db: Db) -> None:
    await client.post(BASE, json=vm_body(), headers=key("slow"))
    # As if the first request were still being processed by another process: no response yet.
    await db.idempotency_keys.update_one(
        {"key": "slow"},
        {"$set": {"response": None, "locked_at": datetime.now(UTC), "lease": "elsewhere.1"}},
    )
    response = await client.post(BASE, json=vm_body(), headers=key("slow"))
    assert_problem(response, 409)
    assert response.headers["retry-after"]
    assert await db.vms.count_documents({}) == 1


async def test_concurrent_identical_creates_with_one_key_make_one_vm(
    client: Client, db: Db
) -> None:
    responses = await asyncio.gather(
        *(client.post(BASE, json=vm_body(), headers=key("race")) for _ in range(10))
    )
    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {201, 409}, [r.text for r in responses]
    created = [r for r in responses if r.status_code == 201]
    assert len({r.json()["id"] for r in created}) == 1
    assert sum("idempotent-replayed" not in r.headers for r in created) == 1
    assert await db.vms.count_documents({}) == 1
    retry = await client.post(BASE, json=vm_body(), headers=key("race"))
    assert retry.status_code == 201
    assert retry.json() == created[0].json()


async def test_patch_put_and_delete_are_replayed(client: Client) -> None:
    vm = (await client.post(BASE, json=vm_body())).json()
    path = f"{BASE}/{vm['id']}"
    for _ in range(2):
        patched = await client.patch(path, json={"labels": {"a": "1"}}, headers=key("p"))
        assert patched.json()["revision"] == 2
        replaced = await client.put(path, json=vm_body(os="debian-12"), headers=key("r"))
        assert replaced.json()["revision"] == 3
        assert replaced.headers["etag"] == '"3"'
        deleted = await client.delete(path, headers=key("d"))
        assert deleted.status_code == 204
    assert deleted.headers["idempotent-replayed"] == "true"
    assert_problem(await client.delete(path, headers=key("d2")), 404)


async def test_a_business_error_is_replayed_too(client: Client) -> None:
    await client.post(BASE, json=vm_body())
    first = await client.post(BASE, json=vm_body(name="WEB-01"), headers=key("dup"))
    assert_problem(first, 409)
    retry = await client.post(BASE, json=vm_body(name="WEB-01"), headers=key("dup"))
    assert_problem(retry, 409)
    assert retry.headers["idempotent-replayed"] == "true"
    assert retry.json() == first.json()


async def test_invalid_input_is_not_stored_so_the_fixed_request_can_use_the_key(
    client: Client,
) -> None:
    assert_problem(await client.post(BASE, json=vm_body(cpu_cores=0), headers=key("fix")), 400)
    bad_ip = await client.post(BASE, json=vm_body(ip_address="1.2.3"), headers=key("fix"))
    assert_problem(bad_ip, 400)
    fixed = await client.post(BASE, json=vm_body(), headers=key("fix"))
    assert fixed.status_code == 201
    assert "idempotent-replayed" not in fixed.headers


@pytest.mark.parametrize("value", ["", "x" * 256, "tab\tkey", "caf\u00e9".encode()])
async def test_a_bad_key_is_400_naming_the_header(
    client: Client, db: Db, value: str | bytes
) -> None:
    response = await client.post(BASE, json=vm_body(), headers=key(value))
    assert_problem(response, 400, field="Idempotency-Key")
    assert await db.vms.count_documents({}) == 0


async def test_keys_up_to_255_characters_and_quoted_keys(client: Client) -> None:
    assert (await client.post(BASE, json=vm_body(), headers=key("x" * 255))).status_code == 201
    first = await client.post(BASE, json=vm_body(name="q"), headers=key('"quoted"'))
    retry = await client.post(BASE, json=vm_body(name="q"), headers=key('"quoted"'))
    assert first.status_code == retry.status_code == 201
    assert retry.headers["idempotent-replayed"] == "true"


async def test_keys_expire_after_24_hours(client: Client, db: Db) -> None:
    indexes = await db.idempotency_keys.index_information()
    assert any(i.get("expireAfterSeconds") == 24 * 3600 for i in indexes.values()), indexes
    await client.post(BASE, json=vm_body(), headers=key("old"))
    day_ago = datetime.now(UTC) - timedelta(hours=25)
    await db.idempotency_keys.update_one({"key": "old"}, {"$set": {"created_at": day_ago}})
    # Not yet removed by the TTL monitor: an expired key is still a new key.
    response = await client.post(BASE, json=vm_body(name="new"), headers=key("old"))
    assert response.status_code == 201
    assert "idempotent-replayed" not in response.headers


async def test_keys_are_scoped_per_caller(
    client: Client, db: Db, api_keys: ApiKeyRepository
) -> None:
    other = {"Authorization": f"Bearer {await api_keys.create('idem-other', Scope.WRITE)}"}
    mine = await client.post(BASE, json=vm_body(), headers=key("shared"))
    theirs = await client.post(BASE, json=vm_body(name="b"), headers={**key("shared"), **other})
    assert mine.status_code == theirs.status_code == 201
    assert "idempotent-replayed" not in theirs.headers  # not 422: another caller's key
    again = await client.post(BASE, json=vm_body(name="b"), headers={**key("shared"), **other})
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["id"] == theirs.json()["id"]
    scopes = {r["scope"] async for r in db.idempotency_keys.find({"key": "shared"})}
    assert scopes == {"test-admin", "idem-other"}
