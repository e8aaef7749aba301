"""An in-memory VMRepository for service unit tests; tests/integration/test_repository_contract.py
runs the same cases against it and the real repository."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from bson import ObjectId

from service.domain.errors import (
    NameConflict,
    NotFound,
    QuotaExceeded,
    WriteContention,
    invalid,
)
from service.domain.events import (
    WriteContext,
    derived_created_event,
    derived_purged_event,
    is_deleted,
)
from service.domain.listing import ListQuery, search_keys
from service.domain.projects import DEFAULT_PROJECT, RESOURCES, UsageChange
from service.domain.repository import StaleRevision
from service.domain.schemas import VM, VMEvent, rfc3339, vm_from_fields
from service.storage.stored import CHANGEABLE_FIELDS, stored_vm

Events = list[VMEvent]  # (inside FakeRepository, `list` names the method)


def event(revision: int, action: str = "updated", **extra: Any) -> dict[str, Any]:
    """A minimal event of the shape service.domain.events builds, for tests that write directly
    (a `deleted` one carries its purge_at, 30 days on)."""
    now = datetime.now(UTC)
    built = {
        "project": "default", "revision": revision, "action": action, "changes": {},
        "actor": "test", "request_id": "test", "timestamp": now,
    }  # fmt: skip
    if action == "deleted":
        built["purge_at"] = now + timedelta(days=30)
    return {**built, **extra}


VMs = list[VM]  # (inside the class, `list` names the method)


class FakeRepository:
    """Keeps VMs and their events in dicts; same contract as VMRepository (a write's `ctx` only
    names who writes: no Idempotency-Key or atomic batch reaches the fake)."""

    def __init__(self) -> None:
        """Start empty, with project `default` (no limits)."""
        self.vms: dict[str, VM] = {}  # live and deleted ones
        self.writes = 0
        self.events: list[dict[str, Any]] = []
        self.quotas: dict[str, dict[str, int | None]] = {}
        self.usage: dict[str, dict[str, int]] = {}
        self.add_project(DEFAULT_PROJECT)

    def add_project(self, name: str, **limits: int | None) -> None:
        """A project with these limits (the others: none), nothing used."""
        self.quotas[name] = {r: limits.get(r) for r in RESOURCES}
        self.usage[name] = dict.fromkeys(RESOURCES, 0)

    def _charge(self, usage: UsageChange | None) -> None:
        """Apply a usage change, or raise as the ledger does (nothing changed then)."""
        if not usage:
            return
        if usage.project not in self.quotas:
            raise invalid("project", f"no project is named {usage.project!r}")
        used, limits = self.usage[usage.project], self.quotas[usage.project]
        for resource, amount in usage.raises.items():
            limit = limits[resource]
            if limit is not None and used[resource] + amount > limit:
                raise QuotaExceeded(usage.project, resource, limit, used[resource], amount)
        for resource, amount in usage.delta.items():
            used[resource] += amount

    async def ping(self) -> None:
        """Always answers."""

    async def create(
        self,
        fields: dict[str, Any],
        ctx: WriteContext | None = None,
        usage: UsageChange | None = None,
    ) -> VM:
        """Insert with its `created` event; a name taken in its project (any case) ->
        NameConflict; past its project's quota -> QuotaExceeded."""
        stored_vm({**fields, **search_keys(fields)})  # the shape VMRepository would insert
        self._check_name_free(fields["name"], fields["project"], None)
        vm = vm_from_fields({**fields, "id": str(ObjectId())})
        created = derived_created_event(fields)
        assert created is not None, "a create's fields hold its creation record"
        self._charge(usage)
        self._record(created, vm.id)
        self.vms[vm.id] = vm
        self.writes += 1
        return vm

    async def get_by_id(
        self, vm_id: str, include_deleted: bool = False, ctx: WriteContext | None = None
    ) -> VM:
        """Return the live VM (or a deleted one with `include_deleted`), else raise NotFound."""
        vm = self.vms.get(vm_id)
        if vm is None or (is_deleted(vm) and not include_deleted):
            raise NotFound("missing")
        return vm

    def purge_expired(self, now: datetime) -> None:
        """What MongoDB's TTL index does: remove deleted VMs whose purge_at has passed."""
        for vm_id, vm in list(self.vms.items()):
            if is_deleted(vm) and vm.purge_at <= rfc3339(now):  # type: ignore[operator]
                del self.vms[vm_id]

    async def list(self, query: ListQuery) -> list[VM]:
        """Newest first only; of the filters, only show_deleted's (the others and the other
        orders are tested on real MongoDB)."""
        live = "deleted_at" in query.filter
        shown = [v for v in self.vms.values() if not (live and is_deleted(v))]
        ordered = sorted(shown, key=lambda v: (v.created_at, v.id), reverse=True)
        if (after := query.after) is not None:
            start = (rfc3339(after.value), after.id)
            ordered = [v for v in ordered if (v.created_at, v.id) < start]
        return ordered[: query.limit]

    async def list_with_watch_token(self, query: ListQuery) -> tuple[VMs, str]:
        """`list`, with a fixed cluster-time token."""
        return await self.list(query), "t1.0"

    async def count(self, query: ListQuery, at_most: int | None = None) -> int | None:
        """Every VM, live ones only unless show_deleted (other filters are not modelled); the
        whole collection is counted exactly, as VMRepository does."""
        live = "deleted_at" in query.filter
        return sum(1 for v in self.vms.values() if not (live and is_deleted(v)))

    async def update(
        self,
        vm_id: str,
        expected_revision: int,
        changes: dict[str, Any],
        event: dict[str, Any],
        ctx: WriteContext | None = None,
        usage: UsageChange | None = None,
    ) -> VM:
        """Compare-and-set on revision, with its event and usage change."""
        if unknown := changes.keys() - CHANGEABLE_FIELDS:
            raise ValueError(f"not changeable fields of a stored VM: {sorted(unknown)}")
        current = await self.get_by_id(vm_id)
        if current.revision != expected_revision:
            raise StaleRevision(current.revision)
        if "name" in changes:
            self._check_name_free(changes["name"], current.project, vm_id)
        self._charge(usage)
        written = {k: rfc3339(v) if isinstance(v, datetime) else v for k, v in changes.items()}
        vm = msgspec.structs.replace(current, revision=current.revision + 1, **written)
        vm = msgspec.convert(msgspec.to_builtins(vm), VM)
        self._record(event, vm_id)
        self.vms[vm_id] = vm
        self.writes += 1
        return vm

    async def delete(
        self,
        vm_id: str,
        expected_revision: int,
        event: dict[str, Any],
        ctx: WriteContext | None = None,
        usage: UsageChange | None = None,
    ) -> None:
        """Soft delete: compare-and-set on revision, deleted_at and purge_at from the event."""
        current = await self.get_by_id(vm_id)
        if current.revision != expected_revision:
            raise StaleRevision(current.revision)
        self._charge(usage)
        self._record(event, vm_id)
        moment = rfc3339(event["timestamp"])
        self.vms[vm_id] = msgspec.structs.replace(
            current, revision=current.revision + 1, updated_at=moment, deleted_at=moment,
            purge_at=rfc3339(event["purge_at"]),
        )  # fmt: skip
        self.writes += 1

    async def restore(
        self,
        vm_id: str,
        expected_revision: int,
        event: dict[str, Any],
        ctx: WriteContext | None = None,
        usage: UsageChange | None = None,
    ) -> VM:
        """A deleted VM live again; NameConflict naming the live holder of its name."""
        current = await self.get_by_id(vm_id, include_deleted=True)
        if current.revision != expected_revision or not is_deleted(current):
            raise StaleRevision(current.revision)
        holder = self._holder(current.name, current.project, vm_id)
        if holder is not None:
            raise NameConflict(f"the name is taken by {holder.id}", holder_id=holder.id)
        self._charge(usage)
        self._record(event, vm_id)
        vm = msgspec.structs.replace(
            current, revision=current.revision + 1, updated_at=rfc3339(event["timestamp"]),
            deleted_at=msgspec.UNSET, purge_at=msgspec.UNSET,
        )  # fmt: skip
        self.vms[vm_id] = vm
        self.writes += 1
        return vm

    async def purge(
        self,
        vm_id: str,
        expected_revision: int,
        event: dict[str, Any],
        ctx: WriteContext | None = None,
        usage: UsageChange | None = None,
    ) -> None:
        """Compare-and-remove on revision, live or deleted, with its event."""
        current = await self.get_by_id(vm_id, include_deleted=True)
        if current.revision != expected_revision:
            raise StaleRevision(current.revision)
        self._charge(usage)
        self._record(event, vm_id)
        del self.vms[vm_id]
        self.writes += 1

    async def list_events(
        self,
        vm_id: str,
        limit: int,
        before_revision: int | None = None,
        projects: tuple[str, ...] | None = None,
    ) -> Events:
        """A VM's events, highest revision first, below `before_revision` when given; none
        unless the VM is in one of `projects` (None: any)."""
        mine = [
            e
            for e in self.events
            if e["vm_id"] == vm_id
            and (before_revision is None or e["revision"] < before_revision)
            and (projects is None or e["project"] in projects)
        ]
        mine.sort(key=lambda e: e["revision"], reverse=True)
        last = mine[0] if mine else {}
        purged_by_ttl = last.get("action") == "deleted" and "purge_at" in last
        if before_revision is None and purged_by_ttl and vm_id not in self.vms:
            purged = derived_purged_event({**last, "_id": last["id"]})
            mine.insert(0, {**purged, "id": purged["_id"], "vm_id": vm_id})
        return [
            msgspec.convert({**e, "timestamp": rfc3339(e["timestamp"])}, VMEvent)
            for e in mine[:limit]
        ]

    def _holder(self, name: str, project: str, own_id: str | None) -> VM | None:
        """The live VM of `project` other than `own_id` named `name` ignoring case (the
        partial index)."""
        for vm in self.vms.values():
            if (
                vm.name.lower() == name.lower()
                and vm.project == project
                and vm.id != own_id
                and not is_deleted(vm)
            ):
                return vm
        return None

    def _check_name_free(self, name: str, project: str, own_id: str | None) -> None:
        if (holder := self._holder(name, project, own_id)) is not None:
            raise NameConflict(f"the name is taken by {holder.id}", holder_id=holder.id)

    def _record(self, event: dict[str, Any], vm_id: str) -> None:
        """Append the event; a revision recorded already aborts the write (as the unique index)."""
        if any(e["vm_id"] == vm_id and e["revision"] == event["revision"] for e in self.events):
            raise WriteContention(f"revision {event['revision']} of the VM is already recorded")
        self.events.append({**event, "vm_id": vm_id, "id": str(ObjectId())})
