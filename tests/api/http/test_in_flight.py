"""`migrate down` waits for the API requests that passed the schema check: each is counted in the
schema guard from before that check until its response is sent, whatever it answers."""

from __future__ import annotations

from typing import Any

import pytest

from service.storage.migrations.guard import SchemaGuard
from service.storage.vms import VMRepository
from tests.api.helpers import BASE, Client, assert_problem, vm_body

pytestmark = pytest.mark.usefixtures("clean")


async def test_a_request_is_counted_while_its_handler_runs(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    guard: SchemaGuard = client.app.state.schema_guard
    vm = (await client.post(BASE, json=vm_body())).json()
    assert guard.in_flight == 0
    seen: list[int] = []  # the count while the handler reads the VM
    read = VMRepository.get_by_id

    async def counted_read(self: VMRepository, vm_id: str, *args: Any, **kwargs: Any) -> Any:
        seen.append(guard.in_flight)
        return await read(self, vm_id, *args, **kwargs)

    monkeypatch.setattr(VMRepository, "get_by_id", counted_read)
    assert (await client.get(f"{BASE}/{vm['id']}")).is_success
    assert (await client.patch(f"{BASE}/{vm['id']}", json={"description": "x"})).is_success
    assert (await client.delete(f"{BASE}/{vm['id']}", params={"force": "true"})).is_success
    assert seen == [1, 1, 1]
    assert guard.in_flight == 0


async def test_requests_refused_by_the_guard_or_failing_are_not_left_counted(
    client: Client,
) -> None:
    guard: SchemaGuard = client.app.state.schema_guard
    assert_problem(await client.get(f"{BASE}/665f1c2e8b3e4a0012345678"), 404)
    assert_problem(await client.post(BASE, json=vm_body(cpu_cores=0)), 400)
    guard.reason = "the schema is being rolled back"
    try:
        assert_problem(await client.get(BASE), 503)
        assert_problem(await client.post(BASE, json=vm_body()), 503)
    finally:
        guard.reason = None
    assert (await client.get("/health/live")).status_code == 200
    assert guard.in_flight == 0
