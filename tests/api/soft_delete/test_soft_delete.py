"""Soft delete, RestoreVM and purge through the API: DELETE keeps its contract for clients while
the VM stays restorable; restore brings back the same VM; purge (admin) removes it at once."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from service.domain.apikeys import Scope
from service.http.app import create_app
from service.storage.api_keys import ApiKeyRepository
from tests.api.helpers import BASE, Client, assert_problem, bearer, create, vm_body

pytestmark = pytest.mark.usefixtures("clean")
MISSING_ID = "665f1c2e8b3e4a0012345678"
PROBLEMS = "https://vm-inventory.dev/problems/"


@pytest.fixture(scope="module")
async def tokens(api_keys: ApiKeyRepository) -> dict[str, str]:
    """A read and a write key (the client fixture sends an admin key)."""
    return {
        scope.value: await api_keys.create(f"soft-delete-{scope.value}", scope)
        for scope in (Scope.READ, Scope.WRITE)
    }


async def actions(client: Client, vm_id: str) -> list[tuple[int, str]]:
    r = await client.get(f"{BASE}/{vm_id}/events")
    assert r.status_code == 200, r.text
    return [(e["revision"], e["action"]) for e in r.json()["items"]]


def when(text: str) -> datetime:
    return datetime.fromisoformat(text)


async def test_delete_then_restore_gives_back_the_same_vm(client: Client) -> None:
    vm = await create(client, labels={"env": "prod"}, ip_address="10.1.2.3", description="d")
    assert (await client.delete(f"{BASE}/{vm['id']}")).status_code == 204

    # The contract of DELETE is unchanged: gone from GetVM and ListVMs.
    assert_problem(await client.get(f"{BASE}/{vm['id']}"), 404)
    assert vm["id"] not in [v["id"] for v in (await client.get(BASE)).json()["items"]]
    # ... but kept as deleted, for show_deleted and restore.
    shown = await client.get(f"{BASE}/{vm['id']}", params={"show_deleted": "true"})
    assert shown.status_code == 200
    deleted = shown.json()
    assert shown.headers["etag"] == f'"{vm["revision"] + 1}"' == f'"{deleted["revision"]}"'
    assert when(deleted["purge_at"]) - when(deleted["deleted_at"]) == timedelta(days=30)
    assert when(deleted["deleted_at"]).tzinfo is not None

    restored = await client.post(f"{BASE}/{vm['id']}/restore")
    assert restored.status_code == 200, restored.text
    back = restored.json()
    assert restored.headers["etag"] == f'"{back["revision"]}"'
    assert back["revision"] == vm["revision"] + 2
    assert "deleted_at" not in back and "purge_at" not in back
    same = {k: v for k, v in back.items() if k not in ("revision", "updated_at")}
    assert same == {k: v for k, v in vm.items() if k not in ("revision", "updated_at")}
    assert (await client.get(f"{BASE}/{vm['id']}")).json() == back
    assert await actions(client, vm["id"]) == [(3, "restored"), (2, "deleted"), (1, "created")]


async def test_a_live_vm_shows_no_deletion_fields_and_head_and_304_follow_show_deleted(
    client: Client,
) -> None:
    vm = await create(client)
    assert "deleted_at" not in vm and "purge_at" not in vm
    await client.delete(f"{BASE}/{vm['id']}")
    url, shown = f"{BASE}/{vm['id']}", {"show_deleted": "true"}
    assert (await client.head(url)).status_code == 404
    head = await client.head(url, params=shown)
    assert (head.status_code, head.headers["etag"]) == (200, '"2"')
    r = await client.get(url, params=shown, headers={"If-None-Match": '"2"'})
    assert r.status_code == 304
    assert_problem(await client.get(url, params={"show_deleted": "maybe"}), 400, "show_deleted")


async def test_the_name_is_free_while_deleted_and_restore_then_names_the_holder(
    client: Client,
) -> None:
    old = await create(client, name="db-01")
    assert (await client.delete(f"{BASE}/{old['id']}")).status_code == 204
    new = await create(client, name="DB-01")  # taken at once, in any case
    problem = assert_problem(await client.post(f"{BASE}/{old['id']}/restore"), 409)
    assert problem["type"] == PROBLEMS + "name-conflict"
    assert problem["holder_id"] == new["id"]
    assert new["id"] in problem["detail"]
    # Nothing changed: the old one is still deleted, the holder live.
    still = await client.get(f"{BASE}/{old['id']}", params={"show_deleted": "true"})
    assert (still.json()["revision"], "deleted_at" in still.json()) == (2, True)
    # Once the holder is renamed, the restore succeeds.
    await client.patch(f"{BASE}/{new['id']}", json={"name": "db-02"})
    assert (await client.post(f"{BASE}/{old['id']}/restore")).status_code == 200


async def test_restore_answers_409_for_a_live_vm_and_404_for_a_missing_or_purged_one(
    client: Client,
) -> None:
    live = await create(client)
    problem = assert_problem(await client.post(f"{BASE}/{live['id']}/restore"), 409)
    assert problem["type"] == PROBLEMS + "not-deleted"
    for missing in (MISSING_ID, "not-an-id"):
        assert_problem(await client.post(f"{BASE}/{missing}/restore"), 404)
    purged = await create(client, name="gone-01")
    await client.delete(f"{BASE}/{purged['id']}", params={"purge": "true"})
    assert_problem(await client.post(f"{BASE}/{purged['id']}/restore"), 404)


async def test_restore_honours_if_match_and_idempotency_key(client: Client) -> None:
    vm = await create(client)
    await client.delete(f"{BASE}/{vm['id']}")
    url = f"{BASE}/{vm['id']}/restore"
    stale = assert_problem(await client.post(url, headers={"If-Match": '"1"'}), 412)
    assert stale["current_revision"] == 2
    key = {"Idempotency-Key": "restore-once", "If-Match": '"2"'}
    first = await client.post(url, headers=key)
    again = await client.post(url, headers=key)
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert (await client.get(f"{BASE}/{vm['id']}")).json()["revision"] == 3  # restored once
    # Without the key, a second restore is refused: the VM is live.
    assert_problem(await client.post(url), 409)


async def test_writes_to_a_deleted_vm_are_404_and_its_history_stays_readable(
    client: Client,
) -> None:
    vm = await create(client)
    await client.delete(f"{BASE}/{vm['id']}")
    url = f"{BASE}/{vm['id']}"
    assert_problem(await client.patch(url, json={"os": "x"}), 404)
    assert_problem(await client.put(url, json=vm_body(name="other")), 404)
    assert_problem(await client.delete(url), 404)
    assert_problem(await client.delete(url, headers={"If-Match": "*"}), 404)
    assert await actions(client, vm["id"]) == [(2, "deleted"), (1, "created")]


async def test_purge_needs_an_admin_key_before_anything_is_looked_up(
    client: Client, tokens: dict[str, str]
) -> None:
    vm = await create(client)
    for scope in ("read", "write"):
        for vm_id in (vm["id"], MISSING_ID):
            r = await client.delete(
                f"{BASE}/{vm_id}", params={"purge": "true"}, headers=bearer(tokens[scope])
            )
            detail = assert_problem(r, 403)["detail"]
            assert ("purge=true needs 'admin'" in detail) == (scope == "write")  # read: 'write'
    writer = bearer(tokens["write"])
    assert (await client.post(f"{BASE}/{vm['id']}/restore", headers=writer)).status_code == 409
    assert (await client.delete(f"{BASE}/{vm['id']}", headers=writer)).status_code == 204
    restore = await client.post(f"{BASE}/{vm['id']}/restore", headers=bearer(tokens["read"]))
    assert_problem(restore, 403)
    assert (await client.post(f"{BASE}/{vm['id']}/restore", headers=writer)).status_code == 200


async def test_purge_removes_a_live_or_deleted_vm_at_once_with_its_event(client: Client) -> None:
    live = await create(client, name="live-01", status="running")
    deleted = await create(client, name="deleted-01")
    await client.delete(f"{BASE}/{deleted['id']}")
    purge = {"purge": "true"}
    # A running VM follows DELETE's force rule; a deleted one was checked when deleted.
    assert_problem(await client.delete(f"{BASE}/{live['id']}", params=purge), 409)
    r = await client.delete(f"{BASE}/{live['id']}", params={**purge, "force": "true"})
    assert r.status_code == 204
    assert (await client.delete(f"{BASE}/{deleted['id']}", params=purge)).status_code == 204
    for vm in (live, deleted):
        hidden = await client.get(f"{BASE}/{vm['id']}", params={"show_deleted": "true"})
        assert_problem(hidden, 404)
        assert_problem(await client.delete(f"{BASE}/{vm['id']}", params=purge), 404)
    assert await actions(client, live["id"]) == [(2, "purged"), (1, "created")]
    assert await actions(client, deleted["id"]) == [(3, "purged"), (2, "deleted"), (1, "created")]
    events = (await client.get(f"{BASE}/{live['id']}/events")).json()["items"]
    assert events[0]["changes"]["name"] == {"before": "live-01", "after": None}
    assert events[0]["actor"] == "test-admin"


async def test_purge_honours_if_match(client: Client) -> None:
    vm = await create(client)
    await client.delete(f"{BASE}/{vm['id']}")
    url, purge = f"{BASE}/{vm['id']}", {"purge": "true"}
    stale = await client.delete(url, params=purge, headers={"If-Match": '"1"'})
    assert assert_problem(stale, 412)["current_revision"] == 2
    assert (await client.delete(url, params=purge, headers={"If-Match": '"2"'})).status_code == 204


async def test_racing_restore_and_create_of_one_name_leave_exactly_one_live_vm(
    client: Client,
) -> None:
    for round_ in range(20):
        name = f"race-{round_:02d}"
        vm = await create(client, name=name)
        await client.delete(f"{BASE}/{vm['id']}")
        restored, created = await asyncio.gather(
            client.post(f"{BASE}/{vm['id']}/restore"), client.post(BASE, json=vm_body(name=name))
        )
        statuses = sorted([restored.status_code, created.status_code])
        assert statuses in ([200, 409], [201, 409]), (restored.text, created.text)
        if restored.status_code == 409:
            assert restored.json()["holder_id"] == created.json()["id"]
        live = (await client.get(BASE, params={"name_prefix": name})).json()["items"]
        assert len(live) == 1, live
        winner = restored if restored.status_code == 200 else created
        assert live[0]["id"] == winner.json()["id"]


async def test_with_require_if_match_restore_and_purge_need_if_match(
    settings: Any, admin_token: str
) -> None:
    strict = settings.model_copy(update={"require_if_match": True})
    async with AsyncTestClient(app=create_app(strict)) as client:
        client.headers["Authorization"] = f"Bearer {admin_token}"
        vm = await create(client, name="strict-01")
        assert (await client.delete(f"{BASE}/{vm['id']}", headers={"If-Match": '"1"'})).is_success
        url = f"{BASE}/{vm['id']}"
        assert_problem(await client.post(f"{url}/restore"), 428)
        assert_problem(await client.delete(url, params={"purge": "true"}), 428)
        restored = await client.post(f"{url}/restore", headers={"If-Match": '"2"'})
        assert restored.status_code == 200
        purged = await client.delete(url, params={"purge": "true"}, headers={"If-Match": "*"})
        assert purged.status_code == 204
