"""VMRepository on real MongoDB: the unique index, not-found, compare-and-set revisions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from service.errors import NameConflict, NotFound, PreconditionFailed
from service.repository import VMRepository

pytestmark = pytest.mark.usefixtures("clean")


def fields(name: str = "web-01", **extra: Any) -> dict[str, Any]:
    now = datetime.now(UTC).replace(microsecond=0)
    return {
        "name": name, "status": "provisioning", "os": "ubuntu-24.04", "cpu_cores": 2,
        "memory_mib": 4096, "storage_gib": 40, "ip_address": None, "labels": {},
        "description": "", "revision": 1, "created_at": now, "updated_at": now, **extra,
    }  # fmt: skip


@pytest.fixture
def repo(db: AsyncDatabase[dict[str, Any]]) -> VMRepository:
    return VMRepository(db)


async def test_create_then_get(repo: VMRepository) -> None:
    vm = await repo.create(fields())
    assert await repo.get_by_id(vm.id) == vm
    assert vm.created_at.tzinfo is not None


@pytest.mark.parametrize("other", ["web-01", "WEB-01", "Web-01"])
async def test_unique_name_ignores_case(repo: VMRepository, other: str) -> None:
    await repo.create(fields("web-01"))
    with pytest.raises(NameConflict):
        await repo.create(fields(other))


async def test_the_index_itself_rejects_a_case_variant(db: AsyncDatabase[dict[str, Any]]) -> None:
    await db.vms.insert_one(fields("db-01"))
    with pytest.raises(DuplicateKeyError):
        await db.vms.insert_one(fields("DB-01"))


async def test_not_found(repo: VMRepository) -> None:
    for vm_id in ("665f1c2e8b3e4a0012345678", "not-an-id", ""):
        with pytest.raises(NotFound):
            await repo.get_by_id(vm_id)
        with pytest.raises(NotFound):
            await repo.update(vm_id, 1, {"os": "x"})
        with pytest.raises(NotFound):
            await repo.delete(vm_id, 1)


async def test_update_increments_revision_once_per_write(repo: VMRepository) -> None:
    vm = await repo.create(fields())
    second = await repo.update(vm.id, 1, {"os": "debian-12"})
    third = await repo.update(vm.id, 2, {"labels": {"a": "b"}})
    assert (second.revision, third.revision) == (2, 3)
    assert (third.os, third.labels) == ("debian-12", {"a": "b"})


async def test_stale_revision_is_refused_and_changes_nothing(repo: VMRepository) -> None:
    vm = await repo.create(fields())
    await repo.update(vm.id, 1, {"os": "debian-12"})
    with pytest.raises(PreconditionFailed) as err:
        await repo.update(vm.id, 1, {"os": "alpine"})
    assert err.value.current_revision == 2
    with pytest.raises(PreconditionFailed):
        await repo.delete(vm.id, 1)
    assert (await repo.get_by_id(vm.id)).os == "debian-12"


async def test_rename_into_taken_name_is_conflict(repo: VMRepository) -> None:
    await repo.create(fields("a1"))
    vm = await repo.create(fields("b1"))
    with pytest.raises(NameConflict):
        await repo.update(vm.id, 1, {"name": "A1"})
