"""A deleted VM past its purge_at is gone to every route at once (404, or absent), whether or
not MongoDB's TTL monitor (every 60 s) has removed its document yet: the monitor is switched off
here, so every case runs on a document MongoDB still holds."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from bson import ObjectId
from litestar.testing import AsyncTestClient
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from service.config import Settings
from service.domain.errors import NotFound
from service.http.app import create_app
from service.storage.vms import VMRepository
from tests.api.helpers import BASE, Client, assert_problem, vm_body

RETENTION_S = 1.0


@dataclass
class Expired:
    """A deleted VM past its purge_at, still stored."""

    id: str
    name: str
    url: str


Route = Callable[[Client, Expired], Awaitable[None]]


async def get_show_deleted(client: Client, vm: Expired) -> None:
    assert_problem(await client.get(vm.url, params={"show_deleted": "true"}), 404)


async def head_show_deleted(client: Client, vm: Expired) -> None:
    assert (await client.head(vm.url, params={"show_deleted": "true"})).status_code == 404


async def get_live(client: Client, vm: Expired) -> None:
    assert_problem(await client.get(vm.url), 404)


async def list_show_deleted(client: Client, vm: Expired) -> None:
    params = {"show_deleted": "true", "name_prefix": vm.name, "include_total": "true"}
    page = (await client.get(BASE, params=params)).json()
    assert (page["items"], page["total_size"]) == ([], 0)


async def list_everything_show_deleted(client: Client, vm: Expired) -> None:
    params: dict[str, str] = {"show_deleted": "true", "include_total": "true", "page_size": "500"}
    seen: list[str] = []
    while True:
        page = (await client.get(BASE, params=params)).json()
        seen += [v["id"] for v in page["items"]]
        if page["next_page_token"] is None:
            break
        params["page_token"] = page["next_page_token"]
    assert vm.id not in seen
    assert page["total_size"] == len(seen)  # the count without filters agrees


async def events_say_purged(client: Client, vm: Expired) -> None:
    events = (await client.get(f"{vm.url}/events")).json()["items"]
    assert [e["action"] for e in events] == ["purged", "deleted", "created"]
    assert events[0]["actor"] == "retention"


async def restore(client: Client, vm: Expired) -> None:
    assert_problem(await client.post(f"{vm.url}/restore"), 404)
    assert_problem(await client.post(f"{vm.url}/restore", headers={"If-Match": '"2"'}), 404)


async def replace(client: Client, vm: Expired) -> None:
    assert_problem(await client.put(vm.url, json=vm_body(name=vm.name)), 404)


async def update(client: Client, vm: Expired) -> None:
    assert_problem(await client.patch(vm.url, json={"description": "back?"}), 404)


async def delete(client: Client, vm: Expired) -> None:
    assert_problem(await client.delete(vm.url, params={"force": "true"}), 404)


async def purge(client: Client, vm: Expired) -> None:
    assert_problem(await client.delete(vm.url, params={"purge": "true"}), 404)


async def upsert_by_name(client: Client, vm: Expired) -> None:
    answer = await client.put(f"{BASE}/by-name/{vm.name}", json=vm_body(name=vm.name))
    assert answer.status_code == 201, answer.text  # a new VM: the old one stays gone
    assert answer.json()["id"] != vm.id


async def batch_items(client: Client, vm: Expired) -> None:
    operations = [
        {"op": "update", "id": vm.id, "patch": {"description": "x"}},
        {"op": "replace", "id": vm.id, "vm": vm_body(name=vm.name)},
        {"op": "delete", "id": vm.id, "force": True},
    ]
    for atomic in (False, True):
        for operation in operations:
            body = {"operations": [operation], "atomic": atomic}
            answer = await client.post(f"{BASE}/batch", json=body)
            assert answer.status_code == (409 if atomic else 200), answer.text  # rolled back
            assert [r["status"] for r in answer.json()["results"]] == [404], answer.text


async def export(client: Client, vm: Expired) -> None:
    answer = await client.get(f"{BASE}/export", params={"name_prefix": vm.name})
    assert (answer.status_code, answer.text) == (200, "")


ROUTES: list[Route] = [
    get_show_deleted, head_show_deleted, get_live, list_show_deleted,
    list_everything_show_deleted, events_say_purged, restore, replace, update, delete, purge,
    upsert_by_name, batch_items, export,
]  # fmt: skip


@pytest.fixture(scope="module")
async def no_ttl_monitor(mongo_client: AsyncMongoClient[dict[str, Any]]) -> AsyncIterator[None]:
    """MongoDB's TTL monitor off for the module (the worker's tests run one at a time)."""
    await mongo_client.admin.command({"setParameter": 1, "ttlMonitorEnabled": False})
    yield
    await mongo_client.admin.command({"setParameter": 1, "ttlMonitorEnabled": True})


@pytest.fixture(scope="module")
async def short_client(
    settings: Settings, admin_token: str, no_ttl_monitor: None
) -> AsyncIterator[Client]:
    """The app keeping deleted VMs RETENTION_S seconds, with the admin key."""
    short = settings.model_copy(update={"deleted_retention_days": RETENTION_S / 86400})
    async with AsyncTestClient(app=create_app(short)) as client:
        client.headers["Authorization"] = f"Bearer {admin_token}"
        yield client


@pytest.fixture(scope="module")
async def expired(short_client: Client, db: AsyncDatabase[dict[str, Any]]) -> dict[str, Expired]:
    """One deleted VM per route, each past its purge_at and still stored."""
    made: dict[str, Expired] = {}
    latest = datetime.min.replace(tzinfo=UTC)
    for route in ROUTES:
        name = f"pp-{route.__name__.replace('_', '-')}-{uuid.uuid4().hex[:6]}"
        created = await short_client.post(BASE, json=vm_body(name=name))
        assert created.status_code == 201, created.text
        vm = Expired(created.json()["id"], name, f"{BASE}/{created.json()['id']}")
        assert (await short_client.delete(vm.url)).status_code == 204
        shown = await short_client.get(vm.url, params={"show_deleted": "true"})
        latest = max(latest, datetime.fromisoformat(shown.json()["purge_at"]))
        made[route.__name__] = vm
    deadline = time.monotonic() + 60  # a bound against hanging, not a timing assertion
    while datetime.now(UTC) <= latest:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.1)
    stored = await db.vms.count_documents({"_id": {"$in": [ObjectId(v.id) for v in made.values()]}})
    assert stored == len(ROUTES)  # MongoDB has removed none of them
    return made


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.__name__)
async def test_a_vm_past_its_purge_at_is_gone_to_every_route(
    short_client: Client, expired: dict[str, Expired], route: Route
) -> None:
    await route(short_client, expired[route.__name__])


@pytest.mark.parametrize("write", ["restore", "purge"])
async def test_the_compare_and_set_itself_refuses_a_vm_past_its_purge_at(
    short_client: Client, db: AsyncDatabase[dict[str, Any]], write: str
) -> None:
    """Not only the read before it: a restore or purge at the right revision, racing the
    purge_at, still misses (the condition is in the write's filter)."""
    name = f"pp-cas-{write}-{uuid.uuid4().hex[:6]}"
    created = (await short_client.post(BASE, json=vm_body(name=name))).json()
    url = f"{BASE}/{created['id']}"
    assert (await short_client.delete(url)).status_code == 204
    shown = (await short_client.get(url, params={"show_deleted": "true"})).json()
    deadline = time.monotonic() + 60  # a bound against hanging, not a timing assertion
    while datetime.now(UTC) <= datetime.fromisoformat(shown["purge_at"]):
        assert time.monotonic() < deadline
        await asyncio.sleep(0.1)
    repository = VMRepository(db)
    event = {"timestamp": datetime.now(UTC), "revision": shown["revision"] + 1}
    with pytest.raises(NotFound):
        await getattr(repository, write)(created["id"], shown["revision"], event)
    assert await db.vms.count_documents({"_id": ObjectId(created["id"])}) == 1  # still stored
