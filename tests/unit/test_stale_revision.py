"""A compare-and-set lost to a concurrent writer: retried without If-Match, 412 with it."""

from __future__ import annotations

from typing import Any

import pytest

from service.domain.errors import NotFound, PreconditionFailed
from service.domain.events import WriteContext
from service.domain.projects import UsageChange
from service.domain.schemas import VM, VMCreate, VMPatch, VMReplace, VMStatus
from service.domain.vms import VMService
from tests.unit.fake_repository import FakeRepository, event

BODY: dict[str, Any] = {
    "name": "web-01", "os": "debian-12", "cpu_cores": 2, "memory_mib": 1024, "storage_gib": 10,
}  # fmt: skip


class LosingRepository(FakeRepository):
    """Another writer changes the VM between the service's read and its first `losses` writes."""

    def __init__(self, losses: int) -> None:
        super().__init__()
        self.losses = losses

    async def _interfere(self, vm_id: str) -> None:
        if self.losses > 0:
            self.losses -= 1
            vm = self.vms[vm_id]
            other = {"description": f"by another writer {self.losses}"}
            await super().update(vm_id, vm.revision, other, event(vm.revision + 1))

    async def update(
        self,
        vm_id: str,
        expected_revision: int,
        changes: dict[str, Any],
        event: dict[str, Any],
        ctx: WriteContext | None = None,
        usage: UsageChange | None = None,
    ) -> VM:
        await self._interfere(vm_id)
        return await super().update(vm_id, expected_revision, changes, event, ctx, usage)

    async def delete(
        self,
        vm_id: str,
        expected_revision: int,
        event: dict[str, Any],
        ctx: WriteContext | None = None,
        usage: UsageChange | None = None,
    ) -> None:
        await self._interfere(vm_id)
        await super().delete(vm_id, expected_revision, event, ctx, usage)


WRITES = ("delete", "patch", "replace")


async def write(kind: str, svc: VMService, vm_id: str, if_match: int | None = None) -> None:
    """One of the three compare-and-set writes, with the same changed field."""
    if kind == "patch":
        await svc.update_vm(vm_id, VMPatch(os="alpine"), if_match=if_match)
    elif kind == "replace":
        body = VMReplace(**{**BODY, "os": "alpine"})
        await svc.replace_vm(vm_id, body, if_match=if_match)
    else:
        await svc.delete_vm(vm_id, if_match=if_match)


async def setup(losses: int) -> tuple[LosingRepository, VMService, str]:
    repo = LosingRepository(0)
    svc = VMService(repo)
    vm = await svc.create_vm(VMCreate(**BODY))
    repo.losses = losses
    return repo, svc, vm.id


@pytest.mark.parametrize("kind", WRITES)
@pytest.mark.parametrize("losses", [1, 3])
async def test_without_if_match_a_lost_write_is_retried(kind: str, losses: int) -> None:
    repo, svc, vm_id = await setup(losses)
    await write(kind, svc, vm_id)
    assert repo.losses == 0
    if kind == "delete":
        with pytest.raises(NotFound):
            await svc.get_vm(vm_id)
        assert repo.vms[vm_id].revision == losses + 2  # kept as deleted, after the others
    else:
        assert (repo.vms[vm_id].os, repo.vms[vm_id].revision) == ("alpine", losses + 2)


@pytest.mark.parametrize("kind", WRITES)
async def test_with_if_match_a_lost_write_is_412_with_the_current_revision(kind: str) -> None:
    repo, svc, vm_id = await setup(1)
    with pytest.raises(PreconditionFailed) as err:
        await write(kind, svc, vm_id, if_match=1)
    assert err.value.current_revision == 2
    assert repo.vms[vm_id].revision == 2
    assert repo.vms[vm_id].status is VMStatus.PROVISIONING
