"""A small in-memory stand-in for VMRepository, for service-rule unit tests only."""

from __future__ import annotations

from typing import Any

import msgspec
from bson import ObjectId

from service.errors import NameConflict, NotFound, PreconditionFailed
from service.listing import ListQuery
from service.schemas import VM


class FakeRepository:
    """Keeps VMs in a dict; same contract as VMRepository (NameConflict, NotFound, CAS)."""

    def __init__(self) -> None:
        self.vms: dict[str, VM] = {}
        self.writes = 0
        self.events: list[dict[str, Any]] = []

    async def ping(self) -> None:
        return None

    async def create(self, fields: dict[str, Any], event: dict[str, Any] | None = None) -> VM:
        if any(v.name.lower() == fields["name"].lower() for v in self.vms.values()):
            raise NameConflict("taken")
        vm = msgspec.convert({**fields, "id": str(ObjectId())}, VM)
        self.vms[vm.id] = vm
        self.writes += 1
        self.events += [{**event, "vm_id": vm.id}] if event else []
        return vm

    async def get_by_id(self, vm_id: str) -> VM:
        if vm_id not in self.vms:
            raise NotFound("missing")
        return self.vms[vm_id]

    async def list(self, query: ListQuery) -> list[VM]:
        """Newest first only (the filters and other orders are tested on real MongoDB)."""
        ordered = sorted(self.vms.values(), key=lambda v: (v.created_at, v.id), reverse=True)
        if (after := query.after) is not None:
            ordered = [v for v in ordered if (v.created_at, v.id) < (after.value, after.id)]
        return ordered[: query.limit]

    async def count(self, query: ListQuery) -> int:
        return len(self.vms)

    async def update(
        self,
        vm_id: str,
        expected_revision: int,
        changes: dict[str, Any],
        event: dict[str, Any] | None = None,
    ) -> VM:
        current = await self.get_by_id(vm_id)
        if current.revision != expected_revision:
            raise PreconditionFailed("stale", current_revision=current.revision)
        vm = msgspec.structs.replace(current, revision=current.revision + 1, **changes)
        vm = msgspec.convert(msgspec.to_builtins(vm), VM)
        self.vms[vm_id] = vm
        self.writes += 1
        self.events += [{**event, "vm_id": vm_id}] if event else []
        return vm

    async def delete(
        self, vm_id: str, expected_revision: int, event: dict[str, Any] | None = None
    ) -> None:
        current = await self.get_by_id(vm_id)
        if current.revision != expected_revision:
            raise PreconditionFailed("stale", current_revision=current.revision)
        del self.vms[vm_id]
        self.writes += 1
        self.events += [{**event, "vm_id": vm_id}] if event else []
