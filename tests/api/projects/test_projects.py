"""Projects at /api/v1/projects: every route, every error status, and what each key may see."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from pymongo.asynchronous.database import AsyncDatabase

from service.domain.apikeys import Scope
from service.storage.api_keys import ApiKeyRepository
from tests.api.helpers import assert_problem, bearer
from tests.api.projects.conftest import PROJECTS

Client = AsyncTestClient[Any]
Db = AsyncDatabase[dict[str, Any]]
NO_LIMITS = {"vms": None, "cpu_cores": None, "memory_mib": None, "storage_gib": None}
NOTHING_USED = {"vms": 0, "cpu_cores": 0, "memory_mib": 0, "storage_gib": 0}


async def make(client: Client, name: str, **body: Any) -> dict[str, Any]:
    r = await client.post(PROJECTS, json={"name": name, **body})
    assert r.status_code == 201, r.text
    created: dict[str, Any] = r.json()
    return created


async def hold_vm(db: Db, project: str, **fields: Any) -> None:
    """A VM document of `project` (only what telling an empty project reads)."""
    doc = {"name": f"vm-{datetime.now(UTC).timestamp()}", "project": project, **fields}
    await db.vms.insert_one(doc, bypass_document_validation=True)


async def test_create_get_list_update_delete(client: Client, fresh: Db) -> None:
    r = await client.post(
        PROJECTS, json={"name": "team-a", "description": "A", "quota": {"vms": 10}}
    )
    assert r.status_code == 201, r.text
    created = r.json()
    assert r.headers["location"] == f"{PROJECTS}/team-a"
    assert r.headers["etag"] == '"1"'
    assert created["quota"] == {**NO_LIMITS, "vms": 10}
    assert created["usage"] == NOTHING_USED
    assert created["revision"] == 1
    assert created["created_at"].endswith("Z") and created["created_at"] == created["updated_at"]

    got = await client.get(f"{PROJECTS}/team-a")
    assert got.status_code == 200 and got.json() == created and got.headers["etag"] == '"1"'
    cached = await client.get(f"{PROJECTS}/team-a", headers={"If-None-Match": '"1"'})
    assert cached.status_code == 304

    listed = (await client.get(PROJECTS)).json()
    assert [p["name"] for p in listed["items"]] == ["default", "team-a"]
    assert listed["next_page_token"] is None

    patched = await client.patch(
        f"{PROJECTS}/team-a",
        json={"quota": {"cpu_cores": 8}, "description": "B"},
        headers={"If-Match": '"1"'},
    )
    assert patched.status_code == 200, patched.text
    assert patched.headers["etag"] == '"2"'
    body = patched.json()
    assert body["quota"] == {**NO_LIMITS, "vms": 10, "cpu_cores": 8}  # merged, vms kept
    assert body["description"] == "B" and body["revision"] == 2
    lifted = await client.patch(f"{PROJECTS}/team-a", json={"quota": {"vms": None}})
    assert lifted.json()["quota"] == {**NO_LIMITS, "cpu_cores": 8}

    assert (await client.delete(f"{PROJECTS}/team-a")).status_code == 204
    assert_problem(await client.get(f"{PROJECTS}/team-a"), 404)


async def test_list_pages_by_name(client: Client, fresh: Db) -> None:
    for name in ("p-c", "p-a", "p-b"):
        await make(client, name)
    seen: list[str] = []
    token = None
    while True:
        params = {"page_size": 2, **({"page_token": token} if token else {})}
        page = (await client.get(PROJECTS, params=params)).json()
        seen += [p["name"] for p in page["items"]]
        token = page["next_page_token"]
        if token is None:
            break
    assert seen == ["default", "p-a", "p-b", "p-c"]
    bad = await client.get(PROJECTS, params={"page_token": "nope"})
    assert_problem(bad, 400, "page_token")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "Team-A"}, "name"),
        ({"name": "-a"}, "name"),
        ({"name": "a" * 64}, "name"),
        ({"name": "a_b"}, "name"),
        ({"name": "ok", "quota": {"vms": -1}}, "quota.vms"),
        ({"name": "ok", "quota": {"cpu_cores": "8"}}, "quota.cpu_cores"),
        ({"name": "ok", "quota": {"gpus": 1}}, "quota.gpus"),
        ({"name": "ok", "owner": "x"}, "owner"),
    ],
)
async def test_create_rejects_bad_names_and_quotas(
    client: Client, fresh: Db, body: dict[str, Any], field: str
) -> None:
    problem = assert_problem(await client.post(PROJECTS, json=body), 400)
    assert any(field in e["field"] for e in problem["errors"]), problem


async def test_update_rejects_bad_quota_and_a_new_name(client: Client, fresh: Db) -> None:
    await make(client, "team-a")
    bad = await client.patch(f"{PROJECTS}/team-a", json={"quota": {"memory_mib": -5}})
    assert_problem(bad, 400)
    renamed = await client.patch(f"{PROJECTS}/team-a", json={"name": "team-b"})
    assert_problem(renamed, 400)
    assert (await client.get(f"{PROJECTS}/team-a")).json()["revision"] == 1


async def test_duplicate_name_is_409(client: Client, fresh: Db) -> None:
    await make(client, "team-a", quota={"vms": 1})
    problem = assert_problem(await client.post(PROJECTS, json={"name": "team-a"}), 409)
    assert problem["type"].endswith("/name-conflict") and "team-a" in problem["detail"]
    default = await client.post(PROJECTS, json={"name": "default"})
    assert_problem(default, 409)
    assert (await client.get(f"{PROJECTS}/team-a")).json()["quota"]["vms"] == 1  # untouched


async def test_missing_project_is_404_on_every_route(client: Client, fresh: Db) -> None:
    path = f"{PROJECTS}/nowhere"
    assert_problem(await client.get(path), 404)
    assert_problem(await client.patch(path, json={"description": "x"}), 404)
    assert_problem(await client.delete(path), 404)


async def test_if_match_mismatch_is_412(client: Client, fresh: Db) -> None:
    await make(client, "team-a")
    path = f"{PROJECTS}/team-a"
    stale = await client.patch(path, json={"description": "x"}, headers={"If-Match": '"7"'})
    assert assert_problem(stale, 412)["current_revision"] == 1
    gone = await client.delete(path, headers={"If-Match": '"7"'})
    assert assert_problem(gone, 412)["current_revision"] == 1
    malformed = await client.delete(path, headers={"If-Match": "7"})
    assert_problem(malformed, 400, "If-Match")
    assert (await client.delete(path, headers={"If-Match": '"1"'})).status_code == 204


async def test_require_if_match_needs_it_on_project_writes(
    strict_client: Client, fresh: Db
) -> None:
    await make(strict_client, "team-a")
    path = f"{PROJECTS}/team-a"
    assert_problem(await strict_client.patch(path, json={"description": "x"}), 428)
    assert_problem(await strict_client.delete(path), 428)
    assert (await strict_client.delete(path, headers={"If-Match": "*"})).status_code == 204


async def test_default_never_goes(client: Client, fresh: Db) -> None:
    problem = assert_problem(await client.delete(f"{PROJECTS}/default"), 409)
    assert problem["type"].endswith("/project-not-empty")
    assert (await client.get(f"{PROJECTS}/default")).status_code == 200


async def test_a_project_holding_vms_is_409_until_they_are_gone(client: Client, fresh: Db) -> None:
    await make(client, "team-a")
    path = f"{PROJECTS}/team-a"
    await hold_vm(fresh, "team-a")
    problem = assert_problem(await client.delete(path), 409)
    assert problem["type"].endswith("/project-not-empty") and "team-a" in problem["detail"]

    # Deleted but still restorable: still held.
    later = datetime.now(UTC) + timedelta(days=1)
    await fresh.vms.delete_many({"project": "team-a"})
    await hold_vm(fresh, "team-a", deleted_at=datetime.now(UTC), purge_at=later)
    assert_problem(await client.delete(path), 409)

    # Past its purge_at: gone, even before MongoDB's TTL monitor removes it.
    await fresh.vms.update_many(
        {"project": "team-a"},
        {"$set": {"purge_at": datetime.now(UTC)}},
        bypass_document_validation=True,
    )
    assert (await client.delete(path)).status_code == 204
    assert await fresh.project_usage.count_documents({"project": "team-a"}) == 0


async def test_usage_is_the_ledgers(client: Client, fresh: Db) -> None:
    await make(client, "team-a")
    await fresh.project_usage.update_one(
        {"_id": "team-a/3"}, {"$set": {"used.vms": 2, "used.cpu_cores": 5}}
    )
    await fresh.project_usage.update_one({"_id": "team-a/9"}, {"$set": {"used.vms": 1}})
    usage = (await client.get(f"{PROJECTS}/team-a")).json()["usage"]
    assert usage == {**NOTHING_USED, "vms": 3, "cpu_cores": 5}


async def test_lowering_a_quota_below_usage_is_allowed(client: Client, fresh: Db) -> None:
    await make(client, "team-a", quota={"vms": 5})
    await fresh.project_usage.update_one({"_id": "team-a/0"}, {"$set": {"used.vms": 4}})
    r = await client.patch(f"{PROJECTS}/team-a", json={"quota": {"vms": 1}})
    assert r.status_code == 200, r.text
    assert r.json()["quota"]["vms"] == 1 and r.json()["usage"]["vms"] == 4


@pytest.fixture
async def keys(api_keys: ApiKeyRepository, client: Client, fresh: Db) -> dict[str, str]:
    """Tokens: unrestricted read and write keys, an admin key restricted to team-a, a read
    key restricted to team-b (projects team-a, team-b and team-c exist)."""
    for name in ("team-a", "team-b", "team-c"):
        await make(client, name)
    return {
        "read": await api_keys.create("proj-read", Scope.READ),
        "write": await api_keys.create("proj-write", Scope.WRITE),
        "admin-a": await api_keys.create("proj-admin-a", Scope.ADMIN, ["team-a"]),
        "read-b": await api_keys.create("proj-read-b", Scope.READ, ["team-b"]),
    }


async def test_only_an_unrestricted_admin_key_manages_projects(
    client: Client, keys: dict[str, str]
) -> None:
    for who in ("read", "write", "admin-a", "read-b"):
        key = bearer(keys[who])
        assert_problem(await client.post(PROJECTS, json={"name": "new"}, headers=key), 403)
        patched = await client.patch(f"{PROJECTS}/team-a", json={"description": "x"}, headers=key)
        assert_problem(patched, 403)
        assert_problem(await client.delete(f"{PROJECTS}/team-a", headers=key), 403)
    # A restricted admin key: the problem names what is at fault, the key.
    restricted = await client.post(PROJECTS, json={"name": "new"}, headers=bearer(keys["admin-a"]))
    assert_problem(restricted, 403, "Authorization")
    assert (await client.get(f"{PROJECTS}/team-a")).json()["revision"] == 1
    assert (await client.get(f"{PROJECTS}/new")).status_code == 404


async def test_a_key_reads_only_its_projects(client: Client, keys: dict[str, str]) -> None:
    every = (await client.get(PROJECTS, headers=bearer(keys["read"]))).json()
    assert [p["name"] for p in every["items"]] == ["default", "team-a", "team-b", "team-c"]
    only_b = (await client.get(PROJECTS, headers=bearer(keys["read-b"]))).json()
    assert [p["name"] for p in only_b["items"]] == ["team-b"]
    own = await client.get(f"{PROJECTS}/team-b", headers=bearer(keys["read-b"]))
    assert own.status_code == 200
    hidden = await client.get(f"{PROJECTS}/team-a", headers=bearer(keys["read-b"]))
    missing = await client.get(f"{PROJECTS}/nowhere", headers=bearer(keys["read-b"]))
    assert assert_problem(hidden, 404)["title"] == assert_problem(missing, 404)["title"]
    a = (await client.get(PROJECTS, headers=bearer(keys["admin-a"]))).json()
    assert [p["name"] for p in a["items"]] == ["team-a"]


async def test_project_metrics_at_scrape(client: Client, fresh: Db) -> None:
    await make(client, "team-m", quota={"vms": 10, "cpu_cores": 64})
    await fresh.project_usage.update_one({"_id": "team-m/2"}, {"$set": {"used.vms": 9}})
    text = (await client.get("/metrics")).text
    assert 'vm_inventory_project_usage{project="team-m",resource="vms"} 9.0' in text
    assert 'vm_inventory_project_quota_limit{project="team-m",resource="vms"} 10.0' in text
    assert 'vm_inventory_project_quota_limit{project="team-m",resource="cpu_cores"} 64.0' in text
    assert 'vm_inventory_project_quota_limit{project="team-m",resource="memory_mib"}' not in text
    assert 'vm_inventory_project_usage{project="default",resource="vms"}' in text
    await client.delete(f"{PROJECTS}/team-m")
    assert 'project="team-m"' not in (await client.get("/metrics")).text


async def test_a_deleted_project_leaves_the_keys_restricted_to_it(
    client: Client, keys: dict[str, str], api_keys: ApiKeyRepository
) -> None:
    """Its keys lose it: a project created later under the same name is not theirs."""
    assert (await client.delete(f"{PROJECTS}/team-b")).status_code == 204
    assert (await client.post(PROJECTS, json={"name": "team-b"})).status_code == 201
    key = bearer(keys["read-b"])
    assert (await client.get(f"{PROJECTS}/team-b", headers=key)).status_code == 404
    assert (await client.get(PROJECTS, headers=key)).json()["items"] == []
    listed = await client.get("/api/v1/vms", params={"project": "team-b"}, headers=key)
    assert_problem(listed, 403, "project")
    # A key left with no project sees no VM at all, wherever they are.
    for project in ("default", "team-b"):
        body = {"name": f"vm-{project}", "project": project, "os": "debian-12", "cpu_cores": 1,
                "memory_mib": 128, "storage_gib": 1}  # fmt: skip
        assert (await client.post("/api/v1/vms", json=body)).status_code == 201
    everything = await client.get("/api/v1/vms", params={"include_total": "true"}, headers=key)
    assert everything.status_code == 200, everything.text
    assert everything.json()["items"] == [] and everything.json()["total_size"] == 0
    exported = await client.get("/api/v1/vms/export", headers=key)
    assert exported.status_code == 200 and exported.text == ""
    left = {k.name: k.projects for k in await api_keys.list()}
    assert left["proj-read-b"] == () and left["proj-admin-a"] == ("team-a",)
