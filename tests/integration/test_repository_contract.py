"""The repository contract, run against the in-memory fake and VMRepository on real MongoDB alike:
unique names ignoring case, not-found, compare-and-set revisions (a lost one is the internal
StaleRevision, never the client-facing 412), and every write committed with its event."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Protocol

import pytest
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from service.domain.errors import NameConflict, NotFound, WriteContention
from service.domain.projects import DEFAULT_PROJECT
from service.domain.repository import Repository, StaleRevision
from service.domain.schemas import VM, VMEvent, rfc3339
from service.storage.vms import VMRepository
from tests.unit.fake_repository import FakeRepository, event

MISSING_IDS = ["665f1c2e8b3e4a0012345678", "not-an-id", ""]


def fields(name: str = "web-01", **extra: Any) -> dict[str, Any]:
    """What VMService.create_vm hands to the repository."""
    now = datetime.now(UTC).replace(microsecond=0)
    return {
        "name": name, "project": DEFAULT_PROJECT, "status": "provisioning", "os": "ubuntu-24.04",
        "cpu_cores": 2,
        "memory_mib": 4096, "storage_gib": 40, "ip_address": None, "labels": {},
        "description": "", "revision": 1, "created_at": now, "updated_at": now,
        "created_by": "t", "created_request_id": "r", **extra,
    }  # fmt: skip


class Store(Repository, Protocol):
    """The contract plus reading the history back (VMRepository and the fake have both)."""

    async def list_events(
        self, vm_id: str, limit: int, before_revision: int | None = None
    ) -> list[VMEvent]:
        """A VM's events, highest revision first."""


@pytest.fixture(params=["fake", "mongodb"])
def repo(request: pytest.FixtureRequest) -> Store:
    """Each case runs once per implementation."""
    if request.param == "fake":
        return FakeRepository()
    db: AsyncDatabase[dict[str, Any]] = request.getfixturevalue("clean")
    return VMRepository(db)


async def create(repo: Store, name: str = "web-01", **extra: Any) -> VM:
    return await repo.create(fields(name, **extra))


async def test_create_then_get(repo: Store) -> None:
    vm = await create(repo, labels={"env": "prod"}, ip_address="10.0.0.5")
    assert await repo.get_by_id(vm.id) == vm
    assert (vm.revision, vm.labels, vm.ip_address) == (1, {"env": "prod"}, "10.0.0.5")
    assert vm.created_at == vm.updated_at == rfc3339(datetime.fromisoformat(vm.created_at))


@pytest.mark.parametrize("other", ["web-01", "WEB-01", "Web-01"])
async def test_unique_name_ignores_case(repo: Store, other: str) -> None:
    holder = await create(repo, "web-01")
    with pytest.raises(NameConflict) as taken:
        await create(repo, other)
    assert taken.value.extra["holder_id"] == holder.id


@pytest.mark.parametrize("vm_id", MISSING_IDS)
async def test_not_found(repo: Store, vm_id: str) -> None:
    with pytest.raises(NotFound):
        await repo.get_by_id(vm_id)
    with pytest.raises(NotFound):
        await repo.update(vm_id, 1, {"os": "x"}, event(2))
    with pytest.raises(NotFound):
        await repo.delete(vm_id, 1, event(2, "deleted"))


async def test_update_increments_revision_once_per_write(repo: Store) -> None:
    vm = await create(repo)
    second = await repo.update(vm.id, 1, {"os": "debian-12"}, event(2))
    third = await repo.update(vm.id, 2, {"labels": {"a": "b"}}, event(3))
    assert (second.revision, third.revision) == (2, 3)
    assert (third.os, third.labels) == ("debian-12", {"a": "b"})
    assert await repo.get_by_id(vm.id) == third


async def test_a_lost_compare_and_set_is_the_internal_stale_signal(repo: Store) -> None:
    vm = await create(repo)
    await repo.update(vm.id, 1, {"os": "debian-12"}, event(2))
    for expected in (1, 3):  # behind and ahead of the VM
        with pytest.raises(StaleRevision) as err:
            await repo.update(vm.id, expected, {"os": "alpine"}, event(expected + 1))
        assert err.value.current_revision == 2
        with pytest.raises(StaleRevision) as err:
            await repo.delete(vm.id, expected, event(expected + 1, "deleted"))
        assert err.value.current_revision == 2
    stored = await repo.get_by_id(vm.id)
    assert (stored.os, stored.revision) == ("debian-12", 2)


async def test_rename_into_a_taken_name_is_a_conflict(repo: Store) -> None:
    holder = await create(repo, "a1")
    vm = await create(repo, "b1")
    with pytest.raises(NameConflict) as taken:
        await repo.update(vm.id, 1, {"name": "A1"}, event(2))
    assert taken.value.extra["holder_id"] == holder.id
    renamed = await repo.update(vm.id, 1, {"name": "B1"}, event(2))  # its own name, other case
    assert renamed.name == "B1"


async def test_every_write_is_recorded_with_its_event(repo: Store) -> None:
    vm = await create(repo)
    await repo.update(vm.id, 1, {"status": "running"}, event(2, "status_changed"))
    await repo.delete(vm.id, 2, event(3, "deleted"))
    with pytest.raises(NotFound):
        await repo.get_by_id(vm.id)
    history = await repo.list_events(vm.id, 10)
    assert [(e.revision, e.action.value) for e in history] == [
        (3, "deleted"), (2, "status_changed"), (1, "created"),
    ]  # fmt: skip
    assert {e.vm_id for e in history} == {vm.id}


async def test_a_write_whose_event_revision_is_taken_changes_nothing(repo: Store) -> None:
    vm = await create(repo)
    with pytest.raises(WriteContention):
        await repo.update(vm.id, 1, {"os": "debian-12"}, event(1))  # revision 1 is recorded
    with pytest.raises(WriteContention):
        await repo.delete(vm.id, 1, event(1, "deleted"))
    stored = await repo.get_by_id(vm.id)
    assert (stored.os, stored.revision) == ("ubuntu-24.04", 1)
    assert len(await repo.list_events(vm.id, 10)) == 1


async def test_only_fields_of_a_stored_vm_can_be_changed(repo: Store) -> None:
    vm = await create(repo)
    refused = ({"name_key": "x"}, {"revision": 5}, {"$set": {"os": "x"}}, {"memory": 1},
               {"recent_events": []}, {"created_by": "x"})  # fmt: skip
    for changes in refused:
        with pytest.raises(ValueError, match="not changeable fields of a stored VM"):
            await repo.update(vm.id, 1, changes, event(2))
    assert (await repo.get_by_id(vm.id)).revision == 1


@pytest.mark.usefixtures("clean")
async def test_the_index_itself_rejects_a_case_variant(db: AsyncDatabase[dict[str, Any]]) -> None:
    await db.vms.insert_one(fields("db-01"))
    with pytest.raises(DuplicateKeyError):
        await db.vms.insert_one(fields("DB-01"))
