"""The SDK facade against the real server process: every operation and every error type."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
from vm_inventory_client import (
    Conflict,
    Forbidden,
    IdempotencyKeyReused,
    InvalidTransition,
    NameConflict,
    NotFound,
    PayloadTooLarge,
    PreconditionFailed,
    RuleViolation,
    Unauthorized,
    ValidationFailed,
    VMInventory,
)
from vm_inventory_client.models import VMStatus

from bench.server_process import ServerProcess


def unique(prefix: str = "vm") -> str:
    """A VM name no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


SPEC = {"os": "ubuntu-24.04", "cpu_cores": 2, "memory_mib": 4096, "storage_gib": 40}


async def test_every_operation(server: ServerProcess) -> None:
    async with VMInventory(server.base_url, token=server.token) as inv:
        name = unique("web")
        vm = await inv.vms.create(
            name=name, ip_address="10.0.0.5", labels={"env": "prod"}, description="front", **SPEC
        )
        assert (vm.name, vm.status, vm.revision) == (name, VMStatus.PROVISIONING, 1)
        assert vm.ip_address == "10.0.0.5"
        assert vm.labels.to_dict() == {"env": "prod"}
        assert vm.created_at.tzinfo is not None

        got = await inv.vms.get(vm.id)
        assert got.to_dict() == vm.to_dict()
        assert await inv.vms.get_if_changed(vm.id, vm.revision) is None  # 304

        vm = await inv.vms.update(
            vm.id, labels={"tier": "web", "env": None}, ip_address=None, if_match=vm.revision
        )
        assert vm.labels.to_dict() == {"tier": "web"}
        assert vm.ip_address is None
        assert vm.revision == 2

        changed = await inv.vms.get_if_changed(vm.id, 1)
        assert changed is not None
        assert changed.revision == 2

        vm = await inv.vms.replace(vm.id, name=name, os="debian-12", cpu_cores=4,
                                   memory_mib=8192, storage_gib=80, status="running",
                                   if_match=f'"{vm.revision}"')  # fmt: skip
        assert (vm.os, vm.cpu_cores, vm.status, vm.revision) == ("debian-12", 4, "running", 3)
        assert vm.labels.to_dict() == {}

        await inv.vms.delete(vm.id, force=True, if_match=vm.revision)
        with pytest.raises(NotFound) as missing:
            await inv.vms.get(vm.id)
        assert missing.value.status == 404
        assert missing.value.problem.status == 404

        history = [event async for event in inv.vms.events(vm.id, page_size=2)]
        assert [event.revision for event in history] == [4, 3, 2, 1]  # newest first, 2 pages
        assert history[0].action == "deleted"
        assert history[-1].action == "created"
        assert {event.vm_id for event in history} == {vm.id}


async def test_stale_revision_is_precondition_failed(server: ServerProcess) -> None:
    async with VMInventory(server.base_url, token=server.token) as inv:
        vm = await inv.vms.create(name=unique(), **SPEC)
        await inv.vms.update(vm.id, description="changed", if_match=vm.revision)
        with pytest.raises(PreconditionFailed) as stale:
            await inv.vms.update(vm.id, description="lost update", if_match=vm.revision)
        assert stale.value.status == 412
        assert stale.value.current_revision == 2
        with pytest.raises(PreconditionFailed):
            await inv.vms.delete(vm.id, if_match=vm.revision)
        assert (await inv.vms.get(vm.id)).description == "changed"


async def test_idempotency_keys(server: ServerProcess) -> None:
    async with VMInventory(server.base_url, token=server.token) as inv:
        key = uuid.uuid4().hex
        name = unique("idem")
        first = await inv.vms.create(name=name, idempotency_key=key, **SPEC)
        again = await inv.vms.create(name=name, idempotency_key=key, **SPEC)
        assert again.to_dict() == first.to_dict()  # replayed, not created twice
        assert await inv.vms.count(name_prefix=name) == 1
        with pytest.raises(IdempotencyKeyReused) as reused:
            await inv.vms.create(name=unique("other"), idempotency_key=key, **SPEC)
        assert reused.value.status == 422


async def test_validation_errors_name_the_field(server: ServerProcess) -> None:
    async with VMInventory(server.base_url, token=server.token) as inv:
        with pytest.raises(ValidationFailed) as caught:
            await inv.vms.create(name=unique(), os="x", cpu_cores=0, memory_mib=4096,
                                 storage_gib=40)  # fmt: skip
    assert caught.value.status == 400
    assert [e.field for e in caught.value.errors] == ["cpu_cores"]
    assert caught.value.errors[0].message


async def test_too_large_a_body_is_payload_too_large(server: ServerProcess) -> None:
    async with VMInventory(server.base_url, token=server.token) as inv:
        with pytest.raises(PayloadTooLarge) as caught:
            await inv.vms.create(name=unique(), description="x" * 2_000_000, **SPEC)
    assert caught.value.status == 413


async def test_conflicts_carry_their_details(server: ServerProcess) -> None:
    async with VMInventory(server.base_url, token=server.token) as inv:
        name = unique("dup")
        vm = await inv.vms.create(name=name, **SPEC)
        with pytest.raises(NameConflict) as taken:
            await inv.vms.create(name=name.upper(), **SPEC)
        assert isinstance(taken.value, Conflict)
        assert taken.value.status == 409

        with pytest.raises(InvalidTransition) as bad_move:
            await inv.vms.update(vm.id, status="suspended")
        assert bad_move.value.current_status == "provisioning"
        assert sorted(bad_move.value.allowed_transitions) == ["error", "running"]

        vm = await inv.vms.update(vm.id, status="running")
        with pytest.raises(RuleViolation):
            await inv.vms.update(vm.id, cpu_cores=8)
        with pytest.raises(RuleViolation):
            await inv.vms.delete(vm.id)
        await inv.vms.delete(vm.id, force=True)


async def test_api_keys_are_checked(server: ServerProcess) -> None:
    async with VMInventory(server.base_url, token="vmi_not-a-key") as inv:
        with pytest.raises(Unauthorized) as unknown:
            await inv.vms.get("665f1c2e8b3e4a0012345678")
    assert unknown.value.status == 401
    reader = await asyncio.to_thread(server.create_api_key, unique("reader"), "read")
    async with VMInventory(server.base_url, token=reader) as inv:
        assert isinstance(await inv.vms.all(page_size=500), list)
        with pytest.raises(Forbidden) as denied:
            await inv.vms.create(name=unique(), **SPEC)
    assert denied.value.status == 403


async def test_list_iterates_every_page_lazily(server: ServerProcess) -> None:
    requests: list[httpx.Request] = []

    async def count(request: httpx.Request) -> None:
        requests.append(request)

    hooks = {"event_hooks": {"request": [count]}}
    run = uuid.uuid4().hex[:8]
    async with VMInventory(server.base_url, token=server.token, httpx_args=hooks) as inv:
        created = [
            await inv.vms.create(name=f"page-{run}-{i:02}", labels={"run": run}, **SPEC)
            for i in range(45)
        ]
        ids = [vm.id for vm in created]
        requests.clear()
        listed = [vm.id async for vm in inv.vms.list(label=[f"run={run}"], page_size=4)]
        assert listed == ids[::-1]  # newest first, each exactly once
        assert len(requests) == 12  # 45 VMs in pages of 4

        requests.clear()
        first = []
        async for vm in inv.vms.list(label=[f"run={run}"], page_size=4):
            first.append(vm)
            if len(first) == 3:
                break
        assert len(requests) == 1  # only the page it needed

        await inv.vms.update(ids[0], status="running")
        await inv.vms.update(ids[1], status="running")
        running = await inv.vms.all(label=[f"run={run}"], status=["running"])
        assert {vm.id for vm in running} == set(ids[:2])
        by_name = [vm.name async for vm in inv.vms.list(label=[f"run={run}"], sort="-name")]
        assert by_name == sorted((vm.name for vm in created), reverse=True)
        assert await inv.vms.count(label=[f"run={run}"]) == 45
        assert await inv.vms.count(label=[f"run={run}"], name_prefix=f"page-{run}-1") == 10
