"""Soft delete, restore and purge of a VM: each a compare-and-set on its revision, committed
with its event (deleted, restored, purged) in one transaction; a delete and a purge move the
VM's recent events into `vm_events` with it (service.storage.recent)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from bson import ObjectId
from pymongo import ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession

from service.domain.errors import NameConflict
from service.domain.events import WriteContext
from service.domain.listing import LIVE
from service.domain.projects import UsageChange
from service.domain.rules import utcnow
from service.domain.schemas import VM
from service.storage.errors import parse_id, translate_errors
from service.storage.recent import MOVED_WITH
from service.storage.stored import (
    DELETION_FIELDS,
    RECENT_EVENTS,
    VM_PROJECTION,
    to_vm,
    unexpired,
)
from service.storage.vm_store import VMStore

Raw = dict[str, Any]


class DeletionWrites(VMStore):
    """A deleted VM keeps its document (with `deleted_at`, `purge_at`) until MongoDB's TTL index
    on `purge_at` removes it or a purge does; the unique name index covers live VMs only. Past
    its `purge_at` it is gone to restore and purge too, in their compare-and-set."""

    @translate_errors
    async def delete(
        self,
        vm_id: str,
        expected_revision: int,
        event: Raw,
        ctx: WriteContext | None = None,
        usage: UsageChange | None = None,
    ) -> None:
        """Soft delete: if the live VM is still at `expected_revision`, set its `deleted_at`
        (the event's timestamp) and `purge_at` (the event's), recording `event` with it."""
        moment = event["timestamp"]
        update = {
            "$set": {"deleted_at": moment, "purge_at": event["purge_at"], "updated_at": moment},
            "$inc": {"revision": 1},
            "$unset": {RECENT_EVENTS: ""},  # moved to `vm_events` (_retire): TTL loses nothing
        }

        def write(
            match: Raw, projection: Raw, session: AsyncClientSession
        ) -> Awaitable[Raw | None]:
            return self.vms.find_one_and_update(
                {**match, **LIVE}, update, projection=projection, session=session
            )

        await self._retire(
            vm_id, expected_revision, event, write, ctx, usage, include_deleted=False
        )

    @translate_errors
    async def restore(
        self,
        vm_id: str,
        expected_revision: int,
        event: Raw,
        ctx: WriteContext | None = None,
        usage: UsageChange | None = None,
    ) -> VM:
        """If the deleted VM is still at `expected_revision`, make it live again, recording
        `event` and taking its `usage` (QuotaExceeded past the quota); its name taken by a live
        VM of its project meanwhile -> NameConflict naming that VM."""
        oid = parse_id(vm_id)
        update = {
            "$unset": dict.fromkeys(DELETION_FIELDS, ""),
            "$set": {"updated_at": event["timestamp"]},
            "$inc": {"revision": 1},
        }

        async def work(session: AsyncClientSession) -> VM | None:
            deleted = {"deleted_at": {"$ne": None}, **unexpired(utcnow())}
            doc = await self.vms.find_one_and_update(
                {"_id": oid, "revision": expected_revision, **deleted},
                update,
                projection=VM_PROJECTION,
                return_document=ReturnDocument.AFTER,
                session=session,
            )
            if doc is None:
                return None
            # A deleted VM is past revision 1 and holds no recent events (its delete moved them;
            # no update reaches a deleted VM): its events are all in `vm_events` already.
            await self._record(event, oid, None, session)
            if usage:
                await self.ledger.charge(session, usage)
            vm = to_vm(doc)
            await self._respond(ctx, session, vm)
            return vm

        return await self._compare_and_set(
            work, ctx, oid, vm_id, lambda: self._name_taken(oid), include_deleted=True
        )

    async def _name_taken(self, oid: ObjectId) -> NameConflict:
        """The conflict of a restore whose name a live VM holds, naming that VM (`holder_id`)."""
        mine = await self.vms.find_one({"_id": oid}, {"name": 1, "project": 1})
        if mine is None:
            return NameConflict("the name was taken by another VM; retry")
        return await self._name_conflict(mine["name"], mine["project"])

    @translate_errors
    async def purge(
        self,
        vm_id: str,
        expected_revision: int,
        event: Raw,
        ctx: WriteContext | None = None,
        usage: UsageChange | None = None,
    ) -> None:
        """Remove the VM, live or deleted, if still at `expected_revision`, recording `event`."""

        def write(
            match: Raw, projection: Raw, session: AsyncClientSession
        ) -> Awaitable[Raw | None]:
            return self.vms.find_one_and_delete(match, projection=projection, session=session)

        await self._retire(vm_id, expected_revision, event, write, ctx, usage, include_deleted=True)

    async def _retire(
        self,
        vm_id: str,
        expected_revision: int,
        event: Raw,
        write: Callable[[Raw, Raw, AsyncClientSession], Awaitable[Raw | None]],
        ctx: WriteContext | None,
        usage: UsageChange | None,
        include_deleted: bool,
    ) -> None:
        """A soft delete or purge: `write` is the compare-and-set on `match` (id and revision),
        returning the state it replaced (None: it missed), committed with `event` and the
        events that state held outside `vm_events` (its recent ones, or its `created` one)."""
        oid = parse_id(vm_id)
        match = {"_id": oid, "revision": expected_revision}
        if include_deleted:  # a purge: a VM past its purge_at is gone already
            match.update(unexpired(utcnow()))

        async def work(session: AsyncClientSession) -> bool:
            before = await write(match, MOVED_WITH, session)
            if before is None:
                return False
            await self._record(event, oid, before, session)
            if usage:  # what a live VM frees
                await self.ledger.charge(session, usage)
            await self._respond(ctx, session, None)
            return True

        if not await self._write(work, ctx):
            await self._raise_missing_or_stale(oid, vm_id, ctx, include_deleted=include_deleted)
