"""Idempotency-Key after a 5xx: the retry proceeds (never 409 in flight for a dead request), and a
write that committed although the client got a 5xx is replayed, not refused or repeated."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from service.domain.errors import DatabaseUnavailable
from service.storage.idempotency import IdempotencyRepository
from service.storage.vms import VMRepository
from tests.api.helpers import BASE, Client, assert_problem, history_size, vm_body

pytestmark = pytest.mark.usefixtures("clean")
Db = AsyncDatabase[dict[str, Any]]
REAL_TRANSACTION = VMRepository._transaction


async def down(*args: Any, **kwargs: Any) -> Any:
    raise DatabaseUnavailable()


async def fail_before_commit(self: VMRepository, work: Callable[[Any], Awaitable[Any]]) -> Any:
    raise DatabaseUnavailable()


async def commit_then_fail(self: VMRepository, work: Callable[[Any], Awaitable[Any]]) -> Any:
    """The transaction commits, but its acknowledgement never reaches the service."""
    await REAL_TRANSACTION(self, work)
    raise DatabaseUnavailable()


WRITES = ["create", "patch", "put", "delete"]


async def send(client: Client, write: str, vm_id: str, key: str) -> Any:
    headers = {"Idempotency-Key": key}
    path = f"{BASE}/{vm_id}"
    if write == "create":
        return await client.post(BASE, json=vm_body(name="new-vm"), headers=headers)
    if write == "patch":
        return await client.patch(path, json={"description": "patched"}, headers=headers)
    if write == "put":
        return await client.put(path, json=vm_body(os="debian-12"), headers=headers)
    return await client.delete(path, headers=headers)


@pytest.mark.parametrize("release_fails", [False, True], ids=["released", "release-failed"])
@pytest.mark.parametrize("write", WRITES)
async def test_a_write_that_never_committed_is_retried_with_the_same_key(
    client: Client, db: Db, monkeypatch: pytest.MonkeyPatch, write: str, release_fails: bool
) -> None:
    vm_id = (await client.post(BASE, json=vm_body())).json()["id"]
    with monkeypatch.context() as patch:
        patch.setattr(VMRepository, "_transaction", fail_before_commit)
        if release_fails:  # MongoDB is still down when the key is to be freed
            patch.setattr(IdempotencyRepository, "release", down)
        assert_problem(await send(client, write, vm_id, "k"), 503)
    retry = await send(client, write, vm_id, "k")
    assert retry.status_code in (200, 201, 204), retry.text
    assert "idempotent-replayed" not in retry.headers
    assert await history_size(db) == 2  # the first VM's `created`, the retry's


@pytest.mark.parametrize("release_fails", [False, True], ids=["released", "release-failed"])
@pytest.mark.parametrize("write", WRITES)
async def test_a_write_committed_but_answered_503_is_replayed_on_retry(
    client: Client, db: Db, monkeypatch: pytest.MonkeyPatch, write: str, release_fails: bool
) -> None:
    vm_id = (await client.post(BASE, json=vm_body())).json()["id"]
    with monkeypatch.context() as patch:
        patch.setattr(VMRepository, "_transaction", commit_then_fail)
        if release_fails:
            patch.setattr(IdempotencyRepository, "release", down)
        assert_problem(await send(client, write, vm_id, "k"), 503)
    state = await client.get(f"{BASE}/{vm_id}")
    retry = await send(client, write, vm_id, "k")
    assert retry.status_code in (200, 201, 204), retry.text
    assert retry.headers["idempotent-replayed"] == "true"
    assert await history_size(db) == 2  # the write happened exactly once
    if write == "delete":
        assert state.status_code == 404
        return
    vm = retry.json()
    if write == "create":
        assert retry.status_code == 201
        assert retry.headers["location"] == f"{BASE}/{vm['id']}"
        assert await db.vms.count_documents({}) == 2
    else:
        assert vm == state.json()  # the state the one write left
        assert vm["revision"] == 2
    assert retry.headers["etag"] == f'"{vm["revision"]}"'
    again = await send(client, write, vm_id, "k")
    assert again.json() == vm
