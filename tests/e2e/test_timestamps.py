"""Every time the service writes, on every output path, has one form: RFC 3339 in UTC with
milliseconds and `Z` (2026-12-06T10:50:25.123Z), whether or not its milliseconds are zero."""

from __future__ import annotations

import csv
import io
import json
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from bench.server_process import ServerProcess
from tests.e2e.servers import admin_client
from tests.e2e.sse import Watch

RFC3339_MS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
TIMES = ("created_at", "updated_at", "deleted_at", "purge_at", "timestamp")


@pytest.fixture
async def http(server: ServerProcess) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the shared server with its admin key."""
    async with admin_client(server) as client:
        yield client


def times_in(body: Any) -> list[str]:
    """Every value of a time field anywhere in a JSON body."""
    found: list[str] = []
    if isinstance(body, dict):
        for key, value in body.items():
            if key in TIMES and value is not None:
                found.append(value)
            else:
                found += times_in(value)
    elif isinstance(body, list):
        for item in body:
            found += times_in(item)
    return found


def ok(response: httpx.Response, status: int = 200) -> Any:
    """The JSON body of an answer that must have `status`."""
    assert response.status_code == status, response.text
    return response.json() if response.content else None


async def test_every_answer_writes_times_with_milliseconds_and_z(http: httpx.AsyncClient) -> None:
    """JSON answers of every route, the history, a batch, NDJSON and CSV exports and watch
    events: each time is RFC 3339 with three digits of milliseconds and `Z`."""
    tag = uuid.uuid4().hex[:8]
    name = f"ts-{tag}"
    vm = {"os": "debian-12", "cpu_cores": 1, "memory_mib": 512, "storage_gib": 1}
    labels = {"t": tag}
    answers: dict[str, Any] = {}
    async with Watch(http, {"label": f"t={tag}"}) as stream:
        assert stream.response.status_code == 200
        created = ok(
            await http.post("/api/v1/vms", json={"name": name, **vm, "labels": labels}), 201
        )
        vm_id = created["id"]
        path = f"/api/v1/vms/{vm_id}"
        answers["CreateVM"] = created
        answers["GetVM"] = ok(await http.get(path))
        answers["ListVMs"] = ok(await http.get("/api/v1/vms", params={"label": f"t={tag}"}))
        answers["UpdateVM"] = ok(await http.patch(path, json={"description": "patched"}))
        replace = {"name": name, **vm, "labels": labels, "description": "replaced"}
        answers["ReplaceVM"] = ok(await http.put(path, json=replace))
        upsert = {**replace, "description": "upserted"}
        answers["UpsertVM"] = ok(await http.put(f"/api/v1/vms/by-name/{name}", json=upsert))
        batch = {"operations": [{"op": "update", "id": vm_id, "patch": {"description": "b"}}]}
        answers["BatchVMs"] = ok(await http.post("/api/v1/vms/batch", json=batch))
        export = await http.get("/api/v1/vms/export", params={"label": f"t={tag}"})
        answers["ExportVMs NDJSON"] = [json.loads(line) for line in export.text.splitlines()]
        as_csv = await http.get(
            "/api/v1/vms/export", params={"label": f"t={tag}"}, headers={"Accept": "text/csv"}
        )
        assert as_csv.status_code == 200, as_csv.text
        rows = list(csv.DictReader(io.StringIO(as_csv.text)))
        answers["ExportVMs CSV"] = [
            {f: row[f] for f in ("created_at", "updated_at")} for row in rows
        ]
        ok(await http.delete(path, params={"force": "true"}), 204)
        answers["GetVM show_deleted"] = ok(await http.get(path, params={"show_deleted": "true"}))
        answers["ListVMs show_deleted"] = ok(
            await http.get("/api/v1/vms", params={"label": f"t={tag}", "show_deleted": "true"})
        )
        answers["RestoreVM"] = ok(await http.post(f"{path}/restore"))
        answers["ListVMEvents"] = ok(await http.get(f"{path}/events"))
        events = await stream.changes(7)
        answers["WatchVMs"] = [event.data for event in events]
    expected = {
        "CreateVM": 2, "GetVM": 2, "ListVMs": 2, "UpdateVM": 2, "ReplaceVM": 2, "UpsertVM": 2,
        "BatchVMs": 2, "ExportVMs NDJSON": 2, "ExportVMs CSV": 2, "GetVM show_deleted": 4,
        "ListVMs show_deleted": 4, "RestoreVM": 2, "ListVMEvents": 7, "WatchVMs": 14,
    }  # fmt: skip
    found = {route: times_in(body) for route, body in answers.items()}
    assert {route: len(times) for route, times in found.items()} == expected
    wrong = {
        route: t for route, times in found.items() for t in times if not RFC3339_MS.fullmatch(t)
    }
    assert wrong == {}
