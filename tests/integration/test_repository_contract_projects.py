"""The repository contract of projects, on the in-memory fake and on VMRepository over real
MongoDB alike (the `repo` fixture of test_repository_contract): names unique per project, and
every write that raises usage past the quota refused with nothing changed, every write that frees
usage freeing exactly what the VM used, in the same atomic step."""

from __future__ import annotations

from typing import Any

import pytest

from service.domain.errors import NameConflict, QuotaExceeded
from service.domain.events import WriteContext
from service.domain.projects import DEFAULT_PROJECT, ProjectCreate, Quota, Usage, change, usage_of
from service.domain.rules import utcnow
from service.domain.schemas import VM, VMCreate
from service.domain.vms import VMService, arrival, departure
from service.storage.projects import ProjectRepository
from service.storage.vms import VMRepository
from tests.integration.test_repository_contract import Store, fields, repo
from tests.unit.fake_repository import FakeRepository, event

__all__ = ["repo"]  # the fixture, run once per implementation


async def add_project(repo: Store, name: str, **limits: int) -> None:
    """A project with these limits (the others: none), nothing used."""
    if isinstance(repo, FakeRepository):
        repo.add_project(name, **limits)
        return
    assert isinstance(repo, VMRepository)
    await ProjectRepository(repo.vms.database).create(
        ProjectCreate(name=name, quota=Quota(**limits)), utcnow()
    )


async def used(repo: Store, project: str) -> Usage:
    """The project's usage as the ledger (or the fake's) holds it."""
    if isinstance(repo, FakeRepository):
        return Usage(**repo.usage[project])
    assert isinstance(repo, VMRepository)
    return (await repo.ledger.usage([project]))[project]


async def create(repo: Store, name: str, project: str, **extra: Any) -> VM:
    """Create as VMService does: the VM with what it adds to its project's usage."""
    new = fields(name, project=project, **extra)
    return await repo.create(new, None, arrival(new))


def ev(revision: int, action: str, project: str) -> dict[str, Any]:
    return event(revision, action, project=project)


async def stored_count(repo: Store) -> int:
    """Every VM stored, live or deleted (what a refused write must not change)."""
    if isinstance(repo, FakeRepository):
        return len(repo.vms)
    assert isinstance(repo, VMRepository)
    return await repo.vms.count_documents({})


SIZE = Usage(vms=1, cpu_cores=2, memory_mib=4096, storage_gib=40)  # of `fields`


async def test_a_name_is_unique_ignoring_case_within_its_project_only(repo: Store) -> None:
    await add_project(repo, "team-a")
    await add_project(repo, "team-b")
    in_a = await create(repo, "web-01", "team-a")
    in_b = await create(repo, "WEB-01", "team-b")  # the same name in another project
    in_default = await create(repo, "Web-01", DEFAULT_PROJECT)
    assert [(v.project, v.name) for v in (in_a, in_b, in_default)] == [
        ("team-a", "web-01"), ("team-b", "WEB-01"), ("default", "Web-01"),
    ]  # fmt: skip
    for holder, other_case in ((in_a, "Web-01"), (in_b, "web-01")):
        with pytest.raises(NameConflict) as taken:
            await create(repo, other_case, holder.project)
        assert taken.value.extra["holder_id"] == holder.id
    # A rename within a project too; the same rename in another project is fine.
    other_a = await create(repo, "db-01", "team-a")
    with pytest.raises(NameConflict) as taken:
        await repo.update(other_a.id, 1, {"name": "WEB-01"}, ev(2, "updated", "team-a"))
    assert taken.value.extra["holder_id"] == in_a.id
    other_b = await create(repo, "db-01", "team-b")
    renamed = await repo.update(other_b.id, 1, {"name": "web-02"}, ev(2, "updated", "team-b"))
    assert renamed.name == "web-02"
    assert await used(repo, "team-a") == Usage(vms=2, cpu_cores=4, memory_mib=8192, storage_gib=80)


async def test_a_create_past_the_quota_changes_nothing(repo: Store) -> None:
    await add_project(repo, "small", vms=2, cpu_cores=3)
    await create(repo, "a-01", "small")
    stored = await stored_count(repo)
    with pytest.raises(QuotaExceeded) as exceeded:  # 2 + 2 cores > 3
        await create(repo, "a-02", "small")
    assert exceeded.value.extra == {
        "project": "small", "resource": "cpu_cores", "limit": 3, "used": 2, "requested": 2,
    }  # fmt: skip
    assert await stored_count(repo) == stored  # the VM was not inserted
    assert await used(repo, "small") == SIZE
    await create(repo, "a-02", "small", cpu_cores=1)  # within every limit
    with pytest.raises(QuotaExceeded) as exceeded:
        await create(repo, "a-03", "small", cpu_cores=1)  # vms, the first resource past it
    assert exceeded.value.extra["resource"] == "vms"
    assert await stored_count(repo) == stored + 1
    assert await used(repo, "small") == Usage(vms=2, cpu_cores=3, memory_mib=8192, storage_gib=80)
    # The name the refused create asked for stayed free.
    await add_project(repo, "big")
    await create(repo, "a-03", "big")


async def test_a_resize_past_the_quota_changes_nothing_and_a_shrink_frees(repo: Store) -> None:
    await add_project(repo, "sized", cpu_cores=4)
    vm = await create(repo, "r-01", "sized")
    grown = change("sized", usage_of(vm), {**usage_of(vm), "cpu_cores": 5})
    with pytest.raises(QuotaExceeded) as exceeded:
        await repo.update(vm.id, 1, {"cpu_cores": 5}, ev(2, "updated", "sized"), None, grown)
    assert exceeded.value.extra == {
        "project": "sized", "resource": "cpu_cores", "limit": 4, "used": 2, "requested": 3,
    }  # fmt: skip
    assert await repo.get_by_id(vm.id) == vm  # unchanged, still at revision 1
    assert [e.revision for e in await repo.list_events(vm.id, 10)] == [1]
    assert await used(repo, "sized") == SIZE
    fits = change("sized", usage_of(vm), {**usage_of(vm), "cpu_cores": 4})
    vm = await repo.update(vm.id, 1, {"cpu_cores": 4}, ev(2, "updated", "sized"), None, fits)
    assert (await used(repo, "sized")).cpu_cores == 4
    shrunk = change("sized", usage_of(vm), {**usage_of(vm), "cpu_cores": 1, "memory_mib": 512})
    changes = {"cpu_cores": 1, "memory_mib": 512}
    await repo.update(vm.id, 2, changes, ev(3, "updated", "sized"), None, shrunk)
    assert await used(repo, "sized") == Usage(vms=1, cpu_cores=1, memory_mib=512, storage_gib=40)


async def test_a_restore_past_the_quota_changes_nothing(repo: Store) -> None:
    await add_project(repo, "one", vms=1)
    first = await create(repo, "x-01", "one")
    await repo.delete(first.id, 1, ev(2, "deleted", "one"), None, departure(first))
    assert await used(repo, "one") == Usage()  # a deleted VM uses nothing
    second = await create(repo, "x-02", "one")
    with pytest.raises(QuotaExceeded) as exceeded:
        await repo.restore(first.id, 2, ev(3, "restored", "one"), None, arrival_of(first))
    assert exceeded.value.extra["resource"] == "vms"
    kept = await repo.get_by_id(first.id, include_deleted=True)
    assert (kept.revision, kept.deleted_at is not None) == (2, True)  # still deleted
    assert [e.revision for e in await repo.list_events(first.id, 10)] == [2, 1]
    assert await used(repo, "one") == SIZE
    await repo.purge(second.id, 1, ev(2, "purged", "one"), None, departure(second))
    back = await repo.restore(first.id, 2, ev(3, "restored", "one"), None, arrival_of(first))
    assert back.revision == 3
    assert await used(repo, "one") == SIZE


def arrival_of(vm: VM) -> Any:
    """What a VM coming back (a restore) adds to its project's usage."""
    return change(vm.project, None, usage_of(vm))


async def test_deletes_and_purges_free_exactly_what_live_vms_used(repo: Store) -> None:
    await add_project(repo, "free", vms=2)
    a = await create(repo, "f-01", "free", cpu_cores=1)
    b = await create(repo, "f-02", "free", cpu_cores=3)
    await repo.delete(a.id, 1, ev(2, "deleted", "free"), None, departure(a))
    assert await used(repo, "free") == Usage(vms=1, cpu_cores=3, memory_mib=4096, storage_gib=40)
    await repo.purge(b.id, 1, ev(2, "purged", "free"), None, departure(b))  # live: frees
    assert await used(repo, "free") == Usage()
    await repo.purge(a.id, 2, ev(3, "purged", "free"))  # deleted: it freed already
    assert await used(repo, "free") == Usage()


async def test_the_service_frees_a_deleted_vm_once(repo: Store) -> None:
    """Over VMService, which decides each write's usage change: a purge of a deleted VM frees
    nothing more, a purge of a live one what it used."""
    await add_project(repo, "svc", vms=2)
    service = VMService(repo)
    ctx = WriteContext("t")
    a = await service.create_vm(new_vm("s-01", "svc"), ctx)
    b = await service.create_vm(new_vm("s-02", "svc"), ctx)
    with pytest.raises(QuotaExceeded):
        await service.create_vm(new_vm("s-03", "svc"), ctx)
    await service.delete_vm(a.id, ctx=ctx)
    assert await used(repo, "svc") == Usage(vms=1, cpu_cores=2, memory_mib=1024, storage_gib=10)
    await service.delete_vm(a.id, ctx=ctx, purge=True)
    assert (await used(repo, "svc")).vms == 1
    await service.delete_vm(b.id, ctx=ctx, purge=True)
    assert await used(repo, "svc") == Usage()


def new_vm(name: str, project: str) -> VMCreate:
    """A CreateVM body: 2 cores, 1 GiB, 10 GiB."""
    return VMCreate(
        name=name, project=project, os="debian-12", cpu_cores=2, memory_mib=1024, storage_gib=10
    )
