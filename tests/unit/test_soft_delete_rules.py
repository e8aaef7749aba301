"""The service's rules of soft delete, restore and purge (against the in-memory fake)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from service.domain.errors import (
    NameConflict,
    NotDeleted,
    NotFound,
    PreconditionFailed,
    RuleViolation,
)
from service.domain.events import RETENTION_ACTOR, WriteContext
from service.domain.listing import ListParams
from service.domain.schemas import VMCreate, VMPatch, VMReplace, VMStatus, rfc3339
from service.domain.vms import VMService
from tests.unit.fake_repository import FakeRepository, event

NOW = datetime(2026, 1, 1, tzinfo=UTC)
RETENTION = timedelta(days=7)
BODY = {"name": "web-01", "os": "debian-12", "cpu_cores": 2, "memory_mib": 2048, "storage_gib": 20}


def body(**overrides: object) -> VMCreate:
    return msgspec.convert({**BODY, **overrides}, VMCreate)


@pytest.fixture
def repo() -> FakeRepository:
    return FakeRepository()


@pytest.fixture
def svc(repo: FakeRepository) -> VMService:
    return VMService(repo, clock=lambda: NOW, retention=RETENTION)


async def test_a_deleted_vm_is_kept_with_its_purge_time_and_hidden_from_reads(
    svc: VMService,
) -> None:
    vm = await svc.create_vm(body())
    await svc.delete_vm(vm.id)
    with pytest.raises(NotFound):
        await svc.get_vm(vm.id)
    deleted = await svc.get_vm(vm.id, show_deleted=True)
    assert (deleted.deleted_at, deleted.purge_at) == (rfc3339(NOW), rfc3339(NOW + RETENTION))
    assert deleted.revision == 2
    assert (await svc.list_vms(ListParams())).items == []
    assert (await svc.list_vms(ListParams(show_deleted=True))).items == [deleted]
    assert (await svc.list_vms(ListParams(include_total=True))).total_size == 0


async def test_every_write_but_restore_and_purge_treats_a_deleted_vm_as_missing(
    svc: VMService,
) -> None:
    vm = await svc.create_vm(body())
    await svc.delete_vm(vm.id)
    for write in (
        svc.update_vm(vm.id, VMPatch(os="x")),
        svc.replace_vm(vm.id, msgspec.convert(BODY, VMReplace)),
        svc.delete_vm(vm.id),
        svc.delete_vm(vm.id, if_match=2),
    ):
        with pytest.raises(NotFound):
            await write


async def test_restore_returns_the_same_vm_at_a_new_revision(
    svc: VMService, repo: FakeRepository
) -> None:
    vm = await svc.create_vm(body(labels={"a": "b"}))
    await svc.delete_vm(vm.id)
    back = await svc.restore_vm(vm.id, ctx=WriteContext("ops", "r-1"))
    assert back == msgspec.structs.replace(vm, revision=3, updated_at=rfc3339(NOW))
    assert await svc.get_vm(vm.id) == back
    restored = (await repo.list_events(vm.id, 1))[0]
    assert (restored.action.value, restored.revision, restored.actor) == ("restored", 3, "ops")
    assert restored.changes["name"].before is None
    assert restored.changes["name"].after == "web-01"


async def test_restore_refuses_a_live_vm_a_missing_one_and_a_taken_name(svc: VMService) -> None:
    vm = await svc.create_vm(body())
    with pytest.raises(NotDeleted):
        await svc.restore_vm(vm.id)
    with pytest.raises(NotFound):
        await svc.restore_vm("665f1c2e8b3e4a0012345678")
    await svc.delete_vm(vm.id)
    holder = await svc.create_vm(body(name="WEB-01"))
    with pytest.raises(NameConflict) as taken:
        await svc.restore_vm(vm.id)
    assert taken.value.extra["holder_id"] == holder.id
    with pytest.raises(PreconditionFailed):
        await svc.restore_vm(vm.id, if_match=1)


@pytest.mark.parametrize("status", list(VMStatus))
async def test_purge_follows_the_force_rule_for_a_live_vm_only(
    svc: VMService, repo: FakeRepository, status: VMStatus
) -> None:
    live = await svc.create_vm(body())
    live = await repo.update(live.id, 1, {"status": status.value}, event(2))
    needs_force = status in (VMStatus.RUNNING, VMStatus.SUSPENDED)
    if needs_force:
        with pytest.raises(RuleViolation):
            await svc.delete_vm(live.id, purge=True)
    await svc.delete_vm(live.id, purge=True, force=needs_force)
    with pytest.raises(NotFound):
        await svc.get_vm(live.id, show_deleted=True)
    purged = (await repo.list_events(live.id, 1))[0]
    assert (purged.action.value, purged.revision) == ("purged", 3)
    assert purged.changes["status"].before == status.value

    deleted = await svc.create_vm(body(name=f"d-{status.value}"))
    deleted = await repo.update(deleted.id, 1, {"status": status.value}, event(2))
    await svc.delete_vm(deleted.id, force=True)
    await svc.delete_vm(deleted.id, purge=True)  # no force: checked when it was deleted
    last = (await repo.list_events(deleted.id, 1))[0]
    assert (last.action.value, last.revision, last.changes) == ("purged", 4, {})


async def test_a_vm_purged_at_its_purge_time_shows_a_derived_purged_event(
    svc: VMService, repo: FakeRepository
) -> None:
    vm = await svc.create_vm(body())
    await svc.delete_vm(vm.id)
    repo.purge_expired(NOW + RETENTION)
    history = await repo.list_events(vm.id, 10)
    assert [(e.revision, e.action.value) for e in history] == [
        (3, "purged"), (2, "deleted"), (1, "created"),
    ]  # fmt: skip
    assert (history[0].actor, history[0].timestamp) == (RETENTION_ACTOR, rfc3339(NOW + RETENTION))
    with pytest.raises(NotFound):
        await svc.restore_vm(vm.id)
