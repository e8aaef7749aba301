"""Fixtures of the project-scoping tests: projects team-a and team-b, and keys of each."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from service.domain.apikeys import Scope
from service.domain.projects import RESOURCES
from service.storage.api_keys import ApiKeyRepository
from tests.api.helpers import BASE, Client, bearer, vm_body

PROJECTS = "/api/v1/projects"
A, B = "team-a", "team-b"
Q = "quota-q"
QUOTA_TYPE = "https://vm-inventory.dev/problems/quota-exceeded"
MEMBERS = {"status", "type", "title", "detail", "project", "resource", "limit", "used", "requested"}
Db = AsyncDatabase[dict[str, Any]]


@dataclass(frozen=True)
class Keys:
    """Authorization headers: a write key of each project, a read key of B, an admin key of B,
    a write key of both (A first: its home), an unrestricted write key."""

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


def assert_quota_exceeded(
    problem: dict[str, Any], resource: str, limit: int, used: int, requested: int
) -> None:
    """`problem` is quota-exceeded in Q, with exactly these members."""
    assert set(problem) == MEMBERS, problem
    assert problem["type"] == QUOTA_TYPE and problem["status"] == 409
    expected = {"project": Q, "resource": resource, "limit": limit, "used": used,
                "requested": requested}  # fmt: skip
    assert {k: problem[k] for k in expected} == expected
    assert resource in problem["detail"] and Q in problem["detail"]
    assert f"{used} of {limit}" in problem["detail"]


async def live_usage(client: Client, project: str) -> dict[str, int]:
    """What the live VMs of `project` use, counted from ListVMs."""
    total = dict.fromkeys(RESOURCES, 0)
    token = None
    while True:
        params: dict[str, Any] = {"project": project, "page_size": 100}
        if token:
            params["page_token"] = token
        page = (await client.get(BASE, params=params)).json()
        for vm in page["items"]:
            for resource in RESOURCES:
                total[resource] += 1 if resource == "vms" else vm[resource]
        token = page["next_page_token"]
        if token is None:
            return total


async def assert_usage_exact(client: Client) -> dict[str, int]:
    """GetProject's usage of Q is what its live VMs use."""
    shown = await usage(client, Q)
    assert shown == await live_usage(client, Q)
    return shown


async def create_in(client: Client, key: dict[str, str], **overrides: Any) -> dict[str, Any]:
    """Create a VM with `key` (asserting 201) and return it."""
    r = await client.post(BASE, json=vm_body(**overrides), headers=key)
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
