"""A key re-created under a revoked key's name starts with no Idempotency-Keys: it never
replays (nor is refused with 422 for) a response the old key stored, which could show a VM
of a project the new key may not see."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from service.domain.apikeys import Scope
from service.domain.errors import NameConflict
from service.storage.api_keys import ApiKeyRepository
from tests.api.helpers import BASE, BATCH, Client, bearer, vm_body
from tests.api.project_scoping.conftest import A, B, Keys, create_in

NAME = "scoping-reused"
IDEM = {"Idempotency-Key": "reused-name-key"}
Send = Callable[[Client, dict[str, str], str], Awaitable[Any]]


async def _create(client: Client, key: dict[str, str], _: str) -> Any:
    return await client.post(BASE, json=vm_body(name="made"), headers={**key, **IDEM})


async def _upsert(client: Client, key: dict[str, str], _: str) -> Any:
    body = vm_body(name="upserted")
    return await client.put(f"{BASE}/by-name/upserted", json=body, headers={**key, **IDEM})


async def _batch(client: Client, key: dict[str, str], _: str) -> Any:
    ops = [{"op": "create", "vm": vm_body(name="batched")}]
    return await client.post(BATCH, json={"operations": ops}, headers={**key, **IDEM})


async def _patch(client: Client, key: dict[str, str], vm_id: str) -> Any:
    return await client.patch(f"{BASE}/{vm_id}", json={"os": "x"}, headers={**key, **IDEM})


async def _delete(client: Client, key: dict[str, str], vm_id: str) -> Any:
    return await client.delete(f"{BASE}/{vm_id}", headers={**key, **IDEM})


@pytest.mark.parametrize("send", [_create, _upsert, _batch, _patch, _delete])
async def test_a_recreated_key_never_replays_the_old_keys_responses(
    client: Client, keys: Keys, api_keys: ApiKeyRepository, send: Send
) -> None:
    hidden = await create_in(client, keys.write_a, name="hidden")  # in A, which B's key can't see
    old = bearer(await api_keys.create(NAME, Scope.WRITE, [A]))
    first = await send(client, old, hidden["id"])
    assert first.status_code in (200, 201, 204), first.text
    await api_keys.revoke(NAME)
    new = bearer(await api_keys.create(NAME, Scope.WRITE, [B]))
    again = await send(client, new, hidden["id"])
    assert "idempotent-replayed" not in again.headers, again.text
    assert A not in again.text
    if send in (_patch, _delete):  # A's VM, as B's key sees it: no such VM
        assert again.status_code == 404, again.text
    else:  # a new request: done in B
        assert again.status_code in (200, 201), again.text
        assert B in again.text and hidden["id"] not in again.text


async def test_a_live_keys_records_stay_when_creating_its_name_fails(
    client: Client, keys: Keys, api_keys: ApiKeyRepository
) -> None:
    live = bearer(await api_keys.create(NAME, Scope.WRITE, [A]))
    first = await _create(client, live, "")
    assert first.status_code == 201
    with pytest.raises(NameConflict):
        await api_keys.create(NAME, Scope.WRITE, [B])
    again = await _create(client, live, "")
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
