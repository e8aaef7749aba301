"""The usage ledger with ProjectRepository: open, charge, requota, close, each in a transaction;
never past the quota whatever runs at once, and usage always what was charged."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from service.domain.errors import QuotaExceeded, ValidationFailed, field_errors_of
from service.domain.projects import ProjectCreate, Quota, Usage, UsageChange
from service.domain.rules import utcnow
from service.storage.migrations.runner import upgrade
from service.storage.projects import ProjectRepository
from service.storage.shielded import in_transaction
from service.storage.usage import SHARDS

Db = AsyncDatabase[dict[str, Any]]


@pytest.fixture
async def repo(fresh_db: Db) -> ProjectRepository:
    await upgrade(fresh_db)
    return ProjectRepository(fresh_db)


async def charge(repo: ProjectRepository, project: str, **delta: int) -> None:
    """Apply `delta` to the project's usage in a transaction of its own (as a VM write does)."""
    client = repo.projects.database.client

    async def work(session: Any) -> None:
        await repo.ledger.charge(session, UsageChange(project, delta))

    await in_transaction(client, work, 30)


async def usage(repo: ProjectRepository, project: str) -> Usage:
    return (await repo.ledger.usage([project]))[project]


async def set_quota(repo: ProjectRepository, project: str, quota: Quota) -> None:
    current = await repo.get(project)
    await repo.update(project, current.revision, current.description, quota, utcnow())


async def test_open_charge_requota_close(repo: ProjectRepository) -> None:
    await repo.create(ProjectCreate(name="p", quota=Quota(cpu_cores=8)), utcnow())
    assert await repo.projects.database.project_usage.count_documents({"project": "p"}) == SHARDS
    await charge(repo, "p", vms=1, cpu_cores=4, memory_mib=512, storage_gib=10)
    await charge(repo, "p", vms=1, cpu_cores=4)
    assert await usage(repo, "p") == Usage(vms=2, cpu_cores=8, memory_mib=512, storage_gib=10)
    with pytest.raises(QuotaExceeded) as exceeded:
        await charge(repo, "p", vms=1, cpu_cores=1)
    assert exceeded.value.extra == {
        "project": "p", "resource": "cpu_cores", "limit": 8, "used": 8, "requested": 1,
    }  # fmt: skip
    assert (await repo.get("p")).usage.cpu_cores == 8  # the refused charge changed nothing
    await set_quota(repo, "p", Quota(cpu_cores=9))
    await charge(repo, "p", vms=1, cpu_cores=1)
    assert (await repo.get("p")).usage == Usage(vms=3, cpu_cores=9, memory_mib=512, storage_gib=10)
    await charge(repo, "p", vms=-3, cpu_cores=-9, memory_mib=-512, storage_gib=-10)
    await repo.delete("p", (await repo.get("p")).revision)
    assert await repo.projects.database.project_usage.count_documents({"project": "p"}) == 0
    with pytest.raises(ValidationFailed) as missing:  # a write racing the deletion: no ledger
        await charge(repo, "p", vms=1)
    assert [e.field for e in field_errors_of(missing.value)] == ["project"]


async def test_fifty_concurrent_charges_against_a_quota_of_ten(repo: ProjectRepository) -> None:
    await repo.create(ProjectCreate(name="q", quota=Quota(vms=10)), utcnow())
    results = await asyncio.gather(
        *(charge(repo, "q", vms=1) for _ in range(50)), return_exceptions=True
    )
    refused = [r for r in results if isinstance(r, QuotaExceeded)]
    others = [r for r in results if isinstance(r, BaseException) and r not in refused]
    assert not others, others
    assert len(results) - len(refused) == 10
    assert (await usage(repo, "q")).vms == 10


async def test_a_quota_below_usage_lets_only_shrinking_writes_pass(
    repo: ProjectRepository,
) -> None:
    await repo.create(ProjectCreate(name="r", quota=Quota(vms=6, memory_mib=6000)), utcnow())
    for _ in range(6):
        await charge(repo, "r", vms=1, memory_mib=1000)
    await set_quota(repo, "r", Quota(vms=3, memory_mib=6000))  # below the usage: allowed
    assert (await repo.get("r")).usage.vms == 6
    with pytest.raises(QuotaExceeded):
        await charge(repo, "r", vms=1, memory_mib=1000)
    await charge(repo, "r", memory_mib=-500)  # a shrinking write passes
    for _ in range(4):  # frees: 6 -> 2 live VMs
        await charge(repo, "r", vms=-1, memory_mib=-1000)
    assert await usage(repo, "r") == Usage(vms=2, memory_mib=1500)
    await charge(repo, "r", vms=1, memory_mib=1000)  # back under the quota: raises pass again
    with pytest.raises(QuotaExceeded) as exceeded:
        await charge(repo, "r", vms=1, memory_mib=1000)
    assert exceeded.value.extra["resource"] == "vms" and exceeded.value.extra["used"] == 3
    assert await usage(repo, "r") == Usage(vms=3, memory_mib=2500)


async def test_recount_sets_usage_to_the_live_vms(repo: ProjectRepository) -> None:
    await repo.create(ProjectCreate(name="s"), utcnow())
    vms = repo.vms
    for cores in (2, 3):
        await vms.insert_one(
            {"project": "s", "name": f"v{cores}", "cpu_cores": cores, "memory_mib": 512,
             "storage_gib": 1},
            bypass_document_validation=True,
        )  # fmt: skip
    await vms.insert_one(
        {"project": "s", "name": "gone", "cpu_cores": 50, "memory_mib": 512, "storage_gib": 1,
         "deleted_at": utcnow()},
        bypass_document_validation=True,
    )  # fmt: skip
    assert (await repo.counted())["s"] == Usage(vms=2, cpu_cores=5, memory_mib=1024, storage_gib=2)
    before, after = await repo.recount("s")
    assert before == Usage() and after == Usage(vms=2, cpu_cores=5, memory_mib=1024, storage_gib=2)
    assert (await repo.get("s")).usage == after
