"""Quotas under racing writers on real MongoDB (VMService over VMRepository, as the app builds
them): 50 creates, resizes or restores at once against a quota let exactly as many through as
it allows, the usage never passes it at any moment a reader could see, and it equals a recount
of the live VMs afterwards."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from service.domain.errors import QuotaExceeded
from service.domain.events import WriteContext
from service.domain.projects import ProjectCreate, Quota, Usage
from service.domain.rules import utcnow
from service.domain.schemas import VM, VMCreate, VMPatch
from service.domain.vms import VMService
from service.storage.projects import ProjectRepository
from service.storage.vms import VMRepository

pytestmark = pytest.mark.usefixtures("clean")
Db = AsyncDatabase[dict[str, Any]]
RACERS = 50


def new_vm(i: int, project: str) -> VMCreate:
    """A VM of 1 core, 512 MiB, 10 GiB."""
    return VMCreate(
        name=f"vm-{i:03d}", project=project, os="debian-12", cpu_cores=1, memory_mib=512,
        storage_gib=10,
    )  # fmt: skip


async def setup(db: Db, project: str, quota: Quota) -> tuple[VMService, ProjectRepository]:
    projects = ProjectRepository(db)
    await projects.create(ProjectCreate(name=project, quota=quota), utcnow())
    return VMService(VMRepository(db)), projects


async def race(
    projects: ProjectRepository,
    project: str,
    writes: Sequence[Awaitable[Any]],
    within: Callable[[Usage], bool],
) -> list[Any]:
    """Run every write at once while a reader samples the project's usage (each sample must
    be `within` the quota); each write's result or exception."""
    done = asyncio.Event()
    samples: list[Usage] = []

    async def sample() -> None:
        while not done.is_set():
            samples.append((await projects.ledger.usage([project]))[project])
            await asyncio.sleep(0)

    reader = asyncio.create_task(sample())
    try:
        results = await asyncio.gather(*writes, return_exceptions=True)
    finally:
        done.set()
        await reader
    assert samples, "the reader saw the usage at least once"
    over = [s for s in samples if not within(s)]
    assert not over, over
    unexpected = [r for r in results if isinstance(r, BaseException)]
    assert all(isinstance(r, QuotaExceeded) for r in unexpected), unexpected
    return results


async def assert_no_drift(db: Db, projects: ProjectRepository, project: str) -> Usage:
    """The ledger's usage equals a recount of the project's live VMs; returns it."""
    ledger = (await projects.ledger.usage([project]))[project]
    assert (await projects.counted()).get(project, Usage()) == ledger
    live = await db.vms.count_documents({"project": project, "deleted_at": None})
    assert ledger.vms == live
    return ledger


async def test_fifty_creates_against_a_quota_of_ten(db: Db) -> None:
    service, projects = await setup(db, "c10", Quota(vms=10))
    ctx = WriteContext("racer")
    writes = [service.create_vm(new_vm(i, "c10"), ctx) for i in range(RACERS)]
    results = await race(projects, "c10", writes, lambda u: u.vms <= 10)
    made = [r for r in results if isinstance(r, VM)]
    assert len(made) == 10
    assert sum(isinstance(r, QuotaExceeded) for r in results) == RACERS - 10
    usage = await assert_no_drift(db, projects, "c10")
    assert usage == Usage(vms=10, cpu_cores=10, memory_mib=5120, storage_gib=100)
    assert await db.vms.count_documents({"project": "c10"}) == 10  # no refused VM stored


async def test_fifty_resizes_of_distinct_vms_against_a_cpu_quota(db: Db) -> None:
    spare = 20
    service, projects = await setup(db, "cpu", Quota(cpu_cores=RACERS + spare))
    ctx = WriteContext("racer")
    vms = [await service.create_vm(new_vm(i, "cpu"), ctx) for i in range(RACERS)]
    grow = VMPatch(cpu_cores=2)  # +1 core each: room for exactly `spare` of them
    writes = [service.update_vm(vm.id, grow, ctx=ctx) for vm in vms]
    results = await race(projects, "cpu", writes, lambda u: u.cpu_cores <= RACERS + spare)
    grown = [r for r in results if isinstance(r, VM)]
    assert len(grown) == spare
    assert all(vm.cpu_cores == 2 and vm.revision == 2 for vm in grown)
    refused = [vm for vm, r in zip(vms, results, strict=True) if isinstance(r, QuotaExceeded)]
    for vm in refused:  # unchanged
        assert await service.get_vm(vm.id) == vm
    usage = await assert_no_drift(db, projects, "cpu")
    assert usage.cpu_cores == RACERS + spare


async def test_fifty_restores_against_a_vms_quota(db: Db) -> None:
    service, projects = await setup(db, "back", Quota(vms=RACERS + 5))
    ctx = WriteContext("racer")
    vms = [await service.create_vm(new_vm(i, "back"), ctx) for i in range(RACERS + 5)]
    for vm in vms[:RACERS]:
        await service.delete_vm(vm.id, ctx=ctx)
    # Lower the quota to 20: 5 live VMs, room for exactly 15 restores.
    current = await projects.get("back")
    await projects.update("back", current.revision, "", Quota(vms=20), utcnow())
    assert (await assert_no_drift(db, projects, "back")).vms == 5
    writes = [service.restore_vm(vm.id, ctx=ctx) for vm in vms[:RACERS]]
    results = await race(projects, "back", writes, lambda u: u.vms <= 20)
    assert sum(isinstance(r, VM) for r in results) == 15
    assert sum(isinstance(r, QuotaExceeded) for r in results) == RACERS - 15
    usage = await assert_no_drift(db, projects, "back")
    assert usage.vms == 20
    assert await db.vms.count_documents({"project": "back", "deleted_at": {"$ne": None}}) == 35
