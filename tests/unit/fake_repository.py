"""An in-memory VMRepository for service unit tests; tests/integration/test_repository_contract.py
runs the same cases against it and the real repository."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec
from bson import ObjectId

from service.domain.errors import NameConflict, NotFound, WriteContention
from service.domain.events import derived_created_event
from service.domain.listing import ListQuery, search_keys
from service.domain.schemas import VM, VMEvent
from service.domain.vms import StaleRevision
from service.storage.stored import CHANGEABLE_FIELDS, stored_vm

Events = list[VMEvent]  # (inside FakeRepository, `list` names the method)


def event(revision: int, action: str = "updated") -> dict[str, Any]:
    """A minimal event of the shape service.domain.events builds, for tests that write directly."""
    return {
        "revision": revision, "action": action, "changes": {}, "actor": "test",
        "request_id": "test", "timestamp": datetime.now(UTC),
    }  # fmt: skip


VMs = list[VM]  # (inside the class, `list` names the method)


class FakeRepository:
    """Keeps VMs and their events in dicts; same contract as VMRepository."""

    def __init__(self) -> None:
        """Start empty."""
        self.vms: dict[str, VM] = {}
        self.writes = 0
        self.events: list[dict[str, Any]] = []

    async def ping(self) -> None:
        """Always answers."""

    async def create(self, fields: dict[str, Any]) -> VM:
        """Insert with its `created` event; a taken name (any case) -> NameConflict."""
        stored_vm({**fields, **search_keys(fields)})  # the shape VMRepository would insert
        self._check_name_free(fields["name"], None)
        vm = msgspec.convert({**fields, "id": str(ObjectId())}, VM)
        created = derived_created_event(fields)
        assert created is not None, "a create's fields hold its creation record"
        self._record(created, vm.id)
        self.vms[vm.id] = vm
        self.writes += 1
        return vm

    async def get_by_id(self, vm_id: str) -> VM:
        """Return the VM or raise NotFound."""
        if vm_id not in self.vms:
            raise NotFound("missing")
        return self.vms[vm_id]

    async def list(self, query: ListQuery) -> list[VM]:
        """Newest first only (the filters and other orders are tested on real MongoDB)."""
        ordered = sorted(self.vms.values(), key=lambda v: (v.created_at, v.id), reverse=True)
        if (after := query.after) is not None:
            ordered = [v for v in ordered if (v.created_at, v.id) < (after.value, after.id)]
        return ordered[: query.limit]

    async def list_with_watch_token(self, query: ListQuery) -> tuple[VMs, str]:
        """`list`, with a fixed cluster-time token."""
        return await self.list(query), "t1.0"

    async def count(self, query: ListQuery) -> int:
        """Every VM (filters are not modelled)."""
        return len(self.vms)

    async def update(
        self, vm_id: str, expected_revision: int, changes: dict[str, Any], event: dict[str, Any]
    ) -> VM:
        """Compare-and-set on revision, with its event."""
        if unknown := changes.keys() - CHANGEABLE_FIELDS:
            raise ValueError(f"not changeable fields of a stored VM: {sorted(unknown)}")
        current = await self.get_by_id(vm_id)
        if current.revision != expected_revision:
            raise StaleRevision(current.revision)
        if "name" in changes:
            self._check_name_free(changes["name"], vm_id)
        vm = msgspec.structs.replace(current, revision=current.revision + 1, **changes)
        vm = msgspec.convert(msgspec.to_builtins(vm), VM)
        self._record(event, vm_id)
        self.vms[vm_id] = vm
        self.writes += 1
        return vm

    async def delete(self, vm_id: str, expected_revision: int, event: dict[str, Any]) -> None:
        """Compare-and-delete on revision, with its event."""
        current = await self.get_by_id(vm_id)
        if current.revision != expected_revision:
            raise StaleRevision(current.revision)
        self._record(event, vm_id)
        del self.vms[vm_id]
        self.writes += 1

    async def list_events(
        self, vm_id: str, limit: int, before_revision: int | None = None
    ) -> Events:
        """A VM's events, highest revision first, below `before_revision` when given."""
        mine = [
            e
            for e in self.events
            if e["vm_id"] == vm_id and (before_revision is None or e["revision"] < before_revision)
        ]
        mine.sort(key=lambda e: e["revision"], reverse=True)
        return [msgspec.convert(e, VMEvent) for e in mine[:limit]]

    def _check_name_free(self, name: str, own_id: str | None) -> None:
        if any(v.name.lower() == name.lower() and v.id != own_id for v in self.vms.values()):
            raise NameConflict(f"a VM named {name!r} already exists")

    def _record(self, event: dict[str, Any], vm_id: str) -> None:
        """Append the event; a revision recorded already aborts the write (as the unique index)."""
        if any(e["vm_id"] == vm_id and e["revision"] == event["revision"] for e in self.events):
            raise WriteContention(f"revision {event['revision']} of the VM is already recorded")
        self.events.append({**event, "vm_id": vm_id, "id": str(ObjectId())})
