"""Smoke test of the CRUD routes."""

from typing import Any

from litestar.testing import AsyncTestClient

VM = {"name": "web-01", "os": "ubuntu-24.04", "cpu_cores": 2, "memory_mib": 4096, "storage_gib": 40}


async def test_crud_roundtrip(client: AsyncTestClient[Any], clean: Any) -> None:
    r = await client.post("/api/v1/vms", json=VM)
    assert r.status_code == 201, r.text
    vm = r.json()
    assert r.headers["etag"] == '"1"'
    assert r.headers["location"] == f"/api/v1/vms/{vm['id']}"
    r = await client.get(f"/api/v1/vms/{vm['id']}")
    assert r.status_code == 200
    assert r.json() == vm
    r = await client.post("/api/v1/vms", json={**VM, "name": "WEB-01"})
    assert r.status_code == 409, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    r = await client.patch(f"/api/v1/vms/{vm['id']}", json={"labels": {"env": "prod"}})
    assert r.status_code == 200, r.text
    assert r.json()["revision"] == 2
    r = await client.post("/api/v1/vms", json={**VM, "name": "x", "cpu_cores": "2"})
    assert r.status_code == 400, r.text
    print(r.json())
    r = await client.post("/api/v1/vms", json={**VM, "name": "y", "cpu_core": 2})
    assert r.status_code == 400, r.text
    print(r.json())
    r = await client.get("/api/v1/vms")
    assert r.status_code == 200
    assert len(r.json()["items"]) == 1
    r = await client.delete(f"/api/v1/vms/{vm['id']}")
    assert r.status_code == 204
