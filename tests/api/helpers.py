"""Request bodies and assertions shared by the API tests."""

from __future__ import annotations

from typing import Any

import httpx
from litestar.testing import AsyncTestClient
from pymongo.asynchronous.database import AsyncDatabase

BASE = "/api/v1/vms"
BATCH = f"{BASE}/batch"
MISSING_ID = "0123456789abcdef01234567"  # a valid id no VM has
Client = AsyncTestClient[Any]


def vm_body(**overrides: Any) -> dict[str, Any]:
    """A valid CreateVM body."""
    body: dict[str, Any] = {
        "name": "web-01", "os": "ubuntu-24.04",
        "cpu_cores": 2, "memory_mib": 4096, "storage_gib": 40,
    }  # fmt: skip
    body.update(overrides)
    return body


async def create(client: Client, **overrides: Any) -> dict[str, Any]:
    """Create a VM from `vm_body(**overrides)` (asserting 201) and return it."""
    response = await client.post(BASE, json=vm_body(**overrides))
    assert response.status_code == 201, response.text
    vm: dict[str, Any] = response.json()
    return vm


def bearer(token: str) -> dict[str, str]:
    """The Authorization header sending `token`."""
    return {"Authorization": f"Bearer {token}"}


def assert_problem(
    response: httpx.Response, status: int, field: str | None = None
) -> dict[str, Any]:
    """The response is an RFC 9457 problem with `status` (naming `field` when given)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem: dict[str, Any] = response.json()
    assert problem["status"] == status
    assert problem["type"].startswith("https://")
    assert problem["title"]
    assert "detail" in problem
    if field is not None:
        assert field in [e["field"] for e in problem["errors"]], problem
    return problem


async def stored_events(
    db: AsyncDatabase[dict[str, Any]], match: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Every event the history stores, matching `match`: those in `vm_events` and those still
    in their VM's `recent_events` (service.storage.recent, given their `vm_id` here), ordered
    by VM and revision."""
    query = match or {}
    found = await db.vm_events.find(query).to_list()
    recent = await db.vms.aggregate([
        {"$unwind": "$recent_events"},
        {"$replaceWith": {"$mergeObjects": ["$recent_events", {"vm_id": "$_id"}]}},
        {"$match": query},
    ])  # fmt: skip
    found += await recent.to_list()
    return sorted(found, key=lambda e: (str(e["vm_id"]), e["revision"]))


async def history_size(db: AsyncDatabase[dict[str, Any]]) -> int:
    """How many events the history holds: those stored (stored_events) plus each `created`
    event still derived from its VM (a VM never written since its create records its creation
    itself)."""
    derived = {"revision": 1, "created_by": {"$exists": True}}
    return len(await stored_events(db)) + await db.vms.count_documents(derived)
