"""API keys: 401 without a valid key, 403 without the scope, public probes, docs and metrics."""

from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from pymongo.asynchronous.database import AsyncDatabase

from service.config import Settings
from service.domain.apikeys import Scope
from service.domain.errors import NameConflict, ValidationFailed
from service.http.app import create_app
from service.http.middleware.auth import MAX_FAILURES_PER_MINUTE
from service.storage.api_keys import ApiKeyRepository
from tests.api.helpers import MISSING_ID, bearer

VM = {"name": "auth-01", "os": "debian-12", "cpu_cores": 1, "memory_mib": 512, "storage_gib": 10}


@pytest.fixture(scope="module")
async def tokens(api_keys: ApiKeyRepository) -> dict[str, str]:
    return {
        scope.value: await api_keys.create(f"auth-{scope.value}", scope)
        for scope in (Scope.READ, Scope.WRITE)
    }


@pytest.fixture
async def vm_id(client: AsyncTestClient[Any], clean: Any) -> str:
    r = await client.post("/api/v1/vms", json=VM)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def assert_problem(r: Any, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = r.json()
    assert body["status"] == status
    return body


@pytest.mark.parametrize(
    "headers",
    [{}, bearer("vmi_not-a-key"), {"Authorization": "Basic dXNlcjpwdw=="}, bearer("")],
    ids=["none", "unknown", "basic", "empty"],
)
async def test_missing_or_bad_token_is_401_and_reveals_nothing(
    client: AsyncTestClient[Any], vm_id: str, headers: dict[str, str]
) -> None:
    no_auth = {"Authorization": headers.get("Authorization", "")}
    bodies = []
    for method, path in [
        ("GET", f"/api/v1/vms/{vm_id}"),
        ("GET", f"/api/v1/vms/{MISSING_ID}"),
        ("DELETE", f"/api/v1/vms/{vm_id}"),
        ("DELETE", f"/api/v1/vms/{MISSING_ID}"),
        ("GET", "/api/v1/vms"),
    ]:
        r = await client.request(method, path, headers=no_auth)
        body = assert_problem(r, 401)
        assert r.headers["www-authenticate"].startswith("Bearer")
        bodies.append({k: v for k, v in body.items() if k != "instance"})
    assert all(b == bodies[0] for b in bodies)
    assert (await client.get(f"/api/v1/vms/{vm_id}")).status_code == 200  # nothing deleted


async def test_read_key_reads_but_cannot_write(
    client: AsyncTestClient[Any], vm_id: str, tokens: dict[str, str]
) -> None:
    read = bearer(tokens["read"])
    assert (await client.get(f"/api/v1/vms/{vm_id}", headers=read)).status_code == 200
    assert (await client.get("/api/v1/vms", headers=read)).status_code == 200
    assert (await client.get(f"/api/v1/vms/{MISSING_ID}", headers=read)).status_code == 404
    existing = await client.patch(f"/api/v1/vms/{vm_id}", json={"os": "x"}, headers=read)
    missing = await client.patch(f"/api/v1/vms/{MISSING_ID}", json={"os": "x"}, headers=read)
    assert assert_problem(existing, 403)["detail"] == assert_problem(missing, 403)["detail"]
    assert_problem(await client.post("/api/v1/vms", json={**VM, "name": "r"}, headers=read), 403)
    assert_problem(await client.delete(f"/api/v1/vms/{vm_id}", headers=read), 403)
    r = await client.get(f"/api/v1/vms/{vm_id}")
    assert r.json()["os"] == "debian-12"


async def test_write_key_writes(
    client: AsyncTestClient[Any], vm_id: str, tokens: dict[str, str]
) -> None:
    write = bearer(tokens["write"])
    r = await client.patch(f"/api/v1/vms/{vm_id}", json={"os": "alma-9"}, headers=write)
    assert r.status_code == 200, r.text
    assert (await client.delete(f"/api/v1/vms/{vm_id}", headers=write)).status_code == 204


async def test_probes_docs_and_metrics_are_public(client: AsyncTestClient[Any]) -> None:
    anonymous = {"Authorization": ""}
    assert (await client.get("/health/live", headers=anonymous)).status_code == 200
    assert (await client.get("/health/ready", headers=anonymous)).status_code == 200
    r = await client.get("/schema/openapi.json", headers=anonymous)
    assert r.status_code == 200
    spec = r.json()
    assert spec["components"]["securitySchemes"]["ApiKey"]["scheme"] == "bearer"
    assert spec["paths"]["/api/v1/vms/{vm_id}"]["get"]["security"] == [{"ApiKey": []}]
    assert "401" in spec["paths"]["/api/v1/vms"]["post"]["responses"]
    assert (await client.get("/metrics", headers=anonymous)).status_code == 200


async def test_last_used_at_is_recorded(
    settings: Settings, api_keys: ApiKeyRepository, db: AsyncDatabase[dict[str, Any]]
) -> None:
    token = await api_keys.create("auth-used", Scope.READ)
    before = await db.api_keys.find_one({"name": "auth-used"})
    assert before is not None and before["last_used_at"] is None
    assert "token" not in before and token not in str(before)
    async with AsyncTestClient(app=create_app(settings)) as fresh:
        assert (await fresh.get("/api/v1/vms", headers=bearer(token))).status_code == 200
    after = await db.api_keys.find_one({"name": "auth-used"})
    assert after is not None and after["last_used_at"] is not None


@pytest.fixture
async def uncached(settings: Settings) -> AsyncIterator[AsyncTestClient[Any]]:
    app = create_app(settings.model_copy(update={"api_key_cache_seconds": 0}))
    async with AsyncTestClient(app=app) as fresh:
        yield fresh


async def test_revoked_key_stops_working(
    uncached: AsyncTestClient[Any], api_keys: ApiKeyRepository
) -> None:
    token = await api_keys.create("auth-revoked", Scope.ADMIN)
    assert (await uncached.get("/api/v1/vms", headers=bearer(token))).status_code == 200
    await api_keys.revoke("auth-revoked")
    assert_problem(await uncached.get("/api/v1/vms", headers=bearer(token)), 401)


async def test_key_names_are_unique_and_tokens_random(api_keys: ApiKeyRepository) -> None:
    first = await api_keys.create("auth-unique", Scope.READ)
    with pytest.raises(NameConflict):
        await api_keys.create("auth-unique", Scope.ADMIN)
    with pytest.raises(ValidationFailed):
        await api_keys.create("bad name", Scope.READ)
    second = await api_keys.create("auth-unique-2", Scope.READ)
    assert first != second
    assert len(first.removeprefix("vmi_")) >= 43  # 32 random bytes, base64url


async def test_guessing_tokens_is_throttled_per_address(
    settings: Settings, api_keys: ApiKeyRepository
) -> None:
    good = await api_keys.create("auth-guess", Scope.READ)
    async with AsyncTestClient(app=create_app(settings)) as fresh:
        assert (await fresh.get("/api/v1/vms", headers=bearer(good))).status_code == 200
        statuses = [
            (await fresh.get("/api/v1/vms", headers=bearer(f"vmi_guess{i}"))).status_code
            for i in range(2 * MAX_FAILURES_PER_MINUTE + 10)
        ]
        # 60 lookups per clock minute and address: even if a minute boundary passes, one of the
        # two windows sees 65 or more guesses, and the rest are refused without asking MongoDB.
        assert statuses[0] == 401 and statuses.count(429) >= 5
        r = await fresh.get("/api/v1/vms", headers=bearer("vmi_guess-again"))
        if r.status_code == 429:
            assert_problem(r, 429)
            assert int(r.headers["retry-after"]) >= 1
        # A key this process already verified keeps working.
        assert (await fresh.get("/api/v1/vms", headers=bearer(good))).status_code == 200
