"""Seeding many VMs straight into MongoDB, and walking ListVMs page by page, for listing tests."""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from bson import ObjectId
from litestar.testing import AsyncTestClient
from pymongo.asynchronous.database import AsyncDatabase

from service.domain.listing import search_keys
from tests.api.helpers import BASE

START = datetime(2026, 1, 1, tzinfo=UTC)
STATUSES = ["provisioning", "running", "stopped", "suspended", "error"]
OSES = ["ubuntu-24.04", "debian-12", "rhel-9"]
PREFIXES = ["web", "Web", "db", "a.b", "axb", "WEB"]


def vm_doc(i: int, **overrides: Any) -> dict[str, Any]:
    """A stored VM (search keys included) whose fields vary with `i`, with many ties."""
    ip: str | None = [f"10.0.{i % 4}.{i % 250}", f"2001:db8:{i % 2}::{i:x}", None][i % 3]
    ip = None if ip is None else str(ipaddress.ip_address(ip))  # stored in canonical form
    labels = {"env": ["prod", "dev"][i % 2]}
    if i % 3 == 0:
        labels["team"] = f"t{i % 4}"
    created = START + timedelta(minutes=i // 3)  # three VMs share each creation time
    doc: dict[str, Any] = {
        "_id": ObjectId(),
        "name": f"{PREFIXES[i % len(PREFIXES)]}-{i:04d}",
        "project": "default",
        "status": STATUSES[i % 5],
        "os": OSES[i % 3],
        "cpu_cores": [1, 2, 4, 8][i % 4],
        "memory_mib": 1024 * (i % 5 + 1),
        "storage_gib": 10 * (i % 7 + 1),
        "ip_address": ip,
        "labels": labels,
        "description": "",
        "revision": 1,
        "created_at": created,
        "updated_at": created,
    }
    doc.update(overrides)
    doc.update(search_keys(doc))
    return doc


async def seed(db: AsyncDatabase[dict[str, Any]], count: int) -> list[dict[str, Any]]:
    """Insert `count` varied VMs with one insert_many; return them as stored."""
    docs = [vm_doc(i) for i in range(count)]
    await db.vms.insert_many(docs)
    return docs


async def walk(
    client: AsyncTestClient[Any],
    params: dict[str, Any],
    page_size: int = 7,
    between_pages: Callable[[], Awaitable[None]] | None = None,
) -> list[dict[str, Any]]:
    """Every item of every page, following next_page_token until it is null."""
    items: list[dict[str, Any]] = []
    token: str | None = None
    for _ in range(10_000):
        query = {**params, "page_size": page_size, **({"page_token": token} if token else {})}
        response = await client.get(BASE, params=query)
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["items"]) <= page_size
        items.extend(page["items"])
        token = page["next_page_token"]
        if token is None:
            return items
        assert len(page["items"]) == page_size
        if between_pages is not None:
            await between_pages()
    raise AssertionError("the walk did not end")
