"""Fixtures of the project-scoping tests: projects team-a and team-b, and keys of each."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from service.domain.apikeys import Scope
from service.storage.api_keys import ApiKeyRepository
from tests.api.helpers import Client, bearer, vm_body

PROJECTS = "/api/v1/projects"
A, B = "team-a", "team-b"
Db = AsyncDatabase[dict[str, Any]]


@dataclass(frozen=True)
class Keys:
    """Authorization headers: a write key of each project, a read key of B, an admin key of B
    and one of both (its home is A), an unrestricted write key."""

    write_a: dict[str, str]
    write_b: dict[str, str]
    read_b: dict[str, str]
    admin_b: dict[str, str]
    write_ab: dict[str, str]
    write_all: dict[str, str]


async def make_project(client: Client, name: str, **body: Any) -> dict[str, Any]:
    """Create project `name` with the admin key (asserting 201)."""
    r = await client.post(PROJECTS, json={"name": name, **body})
    assert r.status_code == 201, r.text
    project: dict[str, Any] = r.json()
    return project


async def usage(client: Client, project: str) -> dict[str, int]:
    """GetProject's usage of `project`."""
    r = await client.get(f"{PROJECTS}/{project}")
    assert r.status_code == 200, r.text
    used: dict[str, int] = r.json()["usage"]
    return used


async def create_in(client: Client, key: dict[str, str], **overrides: Any) -> dict[str, Any]:
    """Create a VM with `key` (asserting 201) and return it."""
    r = await client.post("/api/v1/vms", json=vm_body(**overrides), headers=key)
    assert r.status_code == 201, r.text
    vm: dict[str, Any] = r.json()
    return vm


@pytest.fixture
async def keys(client: Client, clean: Db, api_keys: ApiKeyRepository) -> Keys:
    """No VM, projects default, team-a and team-b (no limits), and a key of each kind."""
    await clean.api_keys.delete_many({"name": {"$regex": "^scoping-"}})
    for name in (A, B):
        await make_project(client, name)

    async def key(name: str, scope: Scope, projects: list[str] | None) -> dict[str, str]:
        return bearer(await api_keys.create(f"scoping-{name}", scope, projects))

    return Keys(
        write_a=await key("write-a", Scope.WRITE, [A]),
        write_b=await key("write-b", Scope.WRITE, [B]),
        read_b=await key("read-b", Scope.READ, [B]),
        admin_b=await key("admin-b", Scope.ADMIN, [B]),
        write_ab=await key("write-ab", Scope.WRITE, [A, B]),
        write_all=await key("write-all", Scope.WRITE, None),
    )
