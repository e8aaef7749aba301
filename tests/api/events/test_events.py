"""The change history: one event per successful write, in its transaction; read newest first."""

from __future__ import annotations

from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from tests.api.helpers import BASE, Client, assert_problem, vm_body

pytestmark = pytest.mark.usefixtures("clean")


async def events(client: Client, vm_id: str, **params: Any) -> list[dict[str, Any]]:
    response = await client.get(f"{BASE}/{vm_id}/events", params=params)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_a_vms_whole_life_is_recorded_newest_first(client: Client) -> None:
    created = await client.post(
        BASE, json=vm_body(labels={"env": "dev"}), headers={"X-Request-ID": "req-create"}
    )
    vm = created.json()
    path = f"{BASE}/{vm['id']}"
    assert (await client.patch(path, json={"labels": {"env": "prod", "team": "a"}})).is_success
    assert (await client.patch(path, json={"status": "running"})).is_success
    replaced = await client.put(path, json=vm_body(status="running", storage_gib=80))
    assert replaced.is_success
    assert (await client.delete(path, params={"force": "true"})).status_code == 204

    history = await events(client, vm["id"])
    assert [(e["action"], e["revision"]) for e in history] == [
        ("deleted", 5), ("updated", 4), ("status_changed", 3), ("updated", 2), ("created", 1),
    ]  # fmt: skip
    deleted, replace, start, patch, create = history
    assert create["request_id"] == "req-create"
    assert create["changes"]["name"] == {"before": None, "after": "web-01"}
    assert create["changes"]["labels"] == {"before": None, "after": {"env": "dev"}}
    assert create["timestamp"] == vm["created_at"]
    assert patch["changes"] == {
        "labels": {"before": {"env": "dev"}, "after": {"env": "prod", "team": "a"}}
    }
    assert start["changes"] == {"status": {"before": "provisioning", "after": "running"}}
    assert replace["changes"] == {
        "storage_gib": {"before": 40, "after": 80},
        "labels": {"before": {"env": "prod", "team": "a"}, "after": {}},
    }
    assert replace["timestamp"] == replaced.json()["updated_at"]
    assert deleted["changes"]["name"] == {"before": "web-01", "after": None}
    for event in history:
        assert event["vm_id"] == vm["id"]
        assert event["actor"] == "test-admin"  # the API key's name
        assert event["request_id"]
        assert event["timestamp"].endswith("Z")
    assert len({e["id"] for e in history}) == 5


async def test_a_request_without_x_request_id_still_gets_one(client: Client) -> None:
    vm = (await client.post(BASE, json=vm_body())).json()
    (event,) = await events(client, vm["id"])
    assert len(event["request_id"]) >= 16


async def test_history_is_paginated_like_the_list(client: Client) -> None:
    vm = (await client.post(BASE, json=vm_body())).json()
    for i in range(6):
        await client.patch(f"{BASE}/{vm['id']}", json={"description": f"v{i}"})
    seen: list[int] = []
    token = None
    while True:
        params: dict[str, Any] = {"page_size": 3}
        if token:
            params["page_token"] = token
        page = (await client.get(f"{BASE}/{vm['id']}/events", params=params)).json()
        seen += [e["revision"] for e in page["items"]]
        token = page["next_page_token"]
        if token is None:
            break
    assert seen == [7, 6, 5, 4, 3, 2, 1]


async def test_unknown_id_is_404_and_a_bad_token_400(client: Client) -> None:
    assert_problem(await client.get(f"{BASE}/665f1c2e8b3e4a0012345678/events"), 404)
    assert_problem(await client.get(f"{BASE}/not-an-id/events"), 404)
    vm = (await client.post(BASE, json=vm_body())).json()
    response = await client.get(f"{BASE}/{vm['id']}/events", params={"page_token": "%%%"})
    assert_problem(response, 400, field="page_token")
    response = await client.get(f"{BASE}/{vm['id']}/events", params={"page_size": 0})
    assert_problem(response, 400)


async def test_failed_writes_record_nothing(
    client: Client, db: AsyncDatabase[dict[str, Any]]
) -> None:
    vm = (await client.post(BASE, json=vm_body(status="running"))).json()
    other = (await client.post(BASE, json=vm_body(name="db-01"))).json()
    path = f"{BASE}/{vm['id']}"
    assert_problem(await client.post(BASE, json=vm_body(name="WEB-01")), 409)  # name taken
    assert_problem(await client.patch(path, json={"name": "db-01"}), 409)  # name taken
    assert_problem(await client.patch(path, json={"status": "provisioning"}), 409)  # transition
    assert_problem(await client.patch(path, json={"cpu_cores": 8}), 409)  # resize while running
    assert_problem(await client.delete(path), 409)  # running needs force
    assert_problem(await client.patch(path, json={"os": "x"}, headers={"If-Match": '"9"'}), 412)
    assert_problem(await client.patch(path, json={"ip_address": "1.2.3"}), 400)
    assert [e["action"] for e in await events(client, vm["id"])] == ["created"]
    assert [e["action"] for e in await events(client, other["id"])] == ["created"]
    assert await db.vm_events.count_documents({"action": {"$ne": "created"}}) == 0
    assert (await client.get(path)).json()["revision"] == 1


async def test_a_write_that_changes_nothing_records_nothing(client: Client) -> None:
    vm = (await client.post(BASE, json=vm_body())).json()
    response = await client.patch(f"{BASE}/{vm['id']}", json={"os": vm["os"]})
    assert response.json()["revision"] == 1
    assert len(await events(client, vm["id"])) == 1
