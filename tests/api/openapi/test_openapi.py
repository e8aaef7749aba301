"""The OpenAPI document: operation ids and every error status on every operation."""

from __future__ import annotations

from typing import Any

from litestar.testing import AsyncTestClient

EXPECTED = {
    ("post", "/api/v1/vms"): ("CreateVM", {"201", "400", "409", "415", "500", "503"}),
    ("get", "/api/v1/vms"): ("ListVMs", {"200", "400", "500", "503"}),
    ("get", "/api/v1/vms/{vm_id}"): ("GetVM", {"200", "404", "500", "503"}),
    ("put", "/api/v1/vms/{vm_id}"): ("ReplaceVM", {"200", "400", "404", "409", "415", "503"}),
    ("patch", "/api/v1/vms/{vm_id}"): ("UpdateVM", {"200", "400", "404", "409", "415", "503"}),
    ("delete", "/api/v1/vms/{vm_id}"): ("DeleteVM", {"204", "404", "409", "500", "503"}),
}


async def test_operations_declare_ids_and_error_statuses(client: AsyncTestClient[Any]) -> None:
    response = await client.get("/schema/openapi.json")
    assert response.status_code == 200
    spec = response.json()
    assert spec["openapi"].startswith("3.1")
    for (method, path), (operation_id, statuses) in EXPECTED.items():
        operation = spec["paths"][path][method]
        assert operation["operationId"] == operation_id
        assert operation["summary"]
        assert statuses <= set(operation["responses"]), (operation_id, operation["responses"])
        for status, answer in operation["responses"].items():
            if status.startswith(("4", "5")):
                assert "application/problem+json" in answer["content"], (operation_id, status)


async def test_every_operation_has_an_id(client: AsyncTestClient[Any]) -> None:
    spec = (await client.get("/schema/openapi.json")).json()
    ids = [op["operationId"] for item in spec["paths"].values() for op in item.values()]
    assert all(ids)
    assert len(ids) == len(set(ids))


async def test_interactive_docs_page(client: AsyncTestClient[Any]) -> None:
    response = await client.get("/schema")
    assert response.status_code == 200
    assert "text/html" in response.headers["content-type"]
