"""VM storage: VMs in `vms` with their history in `vm_events`, every write an atomic op."""

from __future__ import annotations

from typing import Any

import pymongo
from bson import ObjectId
from pymongo import ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import DuplicateKeyError, PyMongoError

from service.domain.errors import (
    DatabaseUnavailable,
    NameConflict,
    NotFound,
    WriteContention,
)
from service.domain.events import WriteContext
from service.domain.listing import LIVE, ListQuery, search_keys
from service.domain.listing.paging import page_queries
from service.domain.projects import UsageChange
from service.domain.repository import StaleRevision
from service.domain.rules import utcnow
from service.domain.schemas import VM, VMEvent
from service.storage.deletion import DeletionWrites
from service.storage.errors import parse_id, translate_errors
from service.storage.history import read_events
from service.storage.recent import MOVED_WITH, append, room_for
from service.storage.shielded import shielded
from service.storage.stored import (
    CHANGEABLE_FIELDS,
    RECENT_EVENTS,
    VM_PROJECTION,
    expired,
    stored_vm,
    to_vm,
    unexpired,
)
from service.storage.vm_store import batch_session
from service.storage.watch import cluster_time_token

Raw = dict[str, Any]
Events = list[VMEvent]  # (inside VMRepository, `list` names the method)
VMs = list[VM]


COUNT_TIMEOUT_S = 10
DELETED_BY_PURGE_AT: Raw = {"purge_at": {"$type": "date"}}
"""The deleted VMs, found on the TTL index of purge_at (migration 0009)."""


class VMRepository(DeletionWrites):
    """Stores VMs in `vms` and their history in `vm_events`: each write and its event commit
    together in one transaction, and every update is a compare-and-set on the revision."""

    @translate_errors
    async def ping(self) -> None:
        """Raise DatabaseUnavailable unless MongoDB answers."""
        await self.vms.database.command("ping")

    @translate_errors
    async def create(
        self, fields: Raw, ctx: WriteContext | None = None, usage: UsageChange | None = None
    ) -> VM:
        """Insert a new VM, its creation record included, with its project's usage change in
        one transaction; a name taken in its project (any case) -> NameConflict, past the
        project's quota -> QuotaExceeded. The `created` event is derived from the VM until the
        VM's first later write records it (service.storage.recent, list_events)."""
        doc = {"_id": ObjectId(), **stored_vm({**fields, **search_keys(fields)})}
        vm = to_vm(dict(doc))

        async def work(session: AsyncClientSession) -> VM:
            await self.vms.insert_one(doc, session=session)
            if usage:
                await self.ledger.charge(session, usage)
            await self._respond(ctx, session, vm)
            return vm

        try:
            # The usage change and an Idempotency-Key's response commit with the VM (in an atomic
            # batch, in the batch's transaction).
            return await self._write(work, ctx)
        except DuplicateKeyError:
            raise await self._name_conflict(fields["name"], fields["project"]) from None

    @translate_errors
    async def get_by_id(
        self, vm_id: str, include_deleted: bool = False, ctx: WriteContext | None = None
    ) -> VM:
        """Return the live VM (or a deleted one with `include_deleted`), else raise NotFound."""
        # By _id alone, MongoDB's fast path for one document (a second condition makes it plan
        # the query: ~15 us more of our CPU per read, waiting longer); deleted ones told apart here.
        match = {"_id": parse_id(vm_id)}
        doc = await self.vms.find_one(match, VM_PROJECTION, session=batch_session(ctx))
        deleted = doc is not None and doc.get("deleted_at") is not None
        if doc is None or (deleted and (not include_deleted or expired(doc, utcnow()))):
            raise NotFound(f"no VM with id {vm_id!r}")
        return to_vm(doc)

    @translate_errors
    async def list(self, query: ListQuery) -> list[VM]:
        """Up to `query.limit` VMs in the query's order, starting after its keyset position."""
        items: list[VM] = []
        visible = not_purged(query.filter)
        for mongo_filter, sort in page_queries(query, parse_id):
            cursor = self.vms.find(
                {**mongo_filter, **visible}, VM_PROJECTION, sort=sort,
                limit=query.limit - len(items),
            )  # fmt: skip
            items.extend(map(to_vm, await shielded(cursor.to_list())))
            if len(items) >= query.limit:
                break
        return items

    @translate_errors
    async def list_with_watch_token(self, query: ListQuery) -> tuple[VMs, str]:
        """`list`, read from one snapshot, and the watch token of that snapshot's cluster time.

        A watch from the token delivers every change the page does not show (and maybe, at the
        seam, one it does: consumers drop revisions they hold).
        """
        return await shielded(self._list_at_snapshot(query))

    async def _list_at_snapshot(self, query: ListQuery) -> tuple[VMs, str]:
        items: list[VM] = []
        visible = not_purged(query.filter)
        async with self.vms.database.client.start_session(snapshot=True) as session:
            for mongo_filter, sort in page_queries(query, parse_id):
                cursor = self.vms.find(
                    {**mongo_filter, **visible}, VM_PROJECTION, sort=sort,
                    limit=query.limit - len(items), session=session,
                )  # fmt: skip
                items.extend(map(to_vm, await cursor.to_list()))
                if len(items) >= query.limit:
                    break
            # The read's atClusterTime (the driver keeps it; operationTime equals it too).
            moment = getattr(session, "_snapshot_time", None) or session.operation_time
        assert moment is not None
        return items, cluster_time_token(moment)

    @translate_errors
    async def count(self, query: ListQuery, at_most: int | None = None) -> int | None:
        """How many VMs match the query's filter (its keyset position is ignored); None when
        more than `at_most` match a filter other than the whole collection's (which is O(1))."""
        if not query.filter:
            # The collection's own count: O(1), where counting 1,000,000 index keys takes ~0.7 s;
            # less the VMs past purge_at the TTL monitor has not removed yet (on its index).
            total = await self.vms.estimated_document_count()
            gone = await self.vms.count_documents({"purge_at": {"$lte": utcnow()}})
            return max(0, total - gone)
        if query.filter == LIVE:
            # Every VM but the deleted ones, which the TTL index on purge_at counts (only they
            # have one): O(deleted VMs) instead of a scan of every live one.
            total = await self.vms.estimated_document_count()
            deleted = await self.vms.count_documents(DELETED_BY_PURGE_AT)
            return max(0, total - deleted)
        try:
            # Counting visits every match (~0.7 s for 136,000 of 1,000,000 on two filters): it
            # stops one past `at_most`, which tells that more match.
            with pymongo.timeout(COUNT_TIMEOUT_S):
                match = {**query.filter, **not_purged(query.filter)}
                if at_most is None:
                    return await self.vms.count_documents(match)
                counted = await self.vms.count_documents(match, limit=at_most + 1)
                return None if counted > at_most else counted
        except PyMongoError as exc:
            if exc.timeout:
                raise DatabaseUnavailable(
                    f"counting the matches took over {COUNT_TIMEOUT_S} s; narrow the filters "
                    "or leave out include_total"
                ) from exc
            raise

    @translate_errors
    async def update(
        self,
        vm_id: str,
        expected_revision: int,
        changes: Raw,
        event: Raw,
        ctx: WriteContext | None = None,
        usage: UsageChange | None = None,
    ) -> VM:
        """Set `changes` and record `event` if the VM is still at `expected_revision`, with the
        project's `usage` change of a resize (QuotaExceeded past its quota): in one write that
        keeps the event in the VM when nothing else needs a transaction and its array has room
        (service.storage.recent), else in a transaction that moves the array to `vm_events`."""
        oid = parse_id(vm_id)
        if unknown := changes.keys() - CHANGEABLE_FIELDS:
            raise ValueError(f"not changeable fields of a stored VM: {sorted(unknown)}")
        name = str(changes.get("name"))
        alone = usage is None and (ctx is None or (ctx.claim is None and ctx.session is None))
        if alone and (vm := await self._append(oid, vm_id, expected_revision, changes, event)):
            return vm

        # The write moves the events the state it replaces holds outside `vm_events` (BEFORE):
        # its array, or from revision 1 its derived `created` event.
        update = {
            "$set": {**changes, **search_keys(changes)},
            "$inc": {"revision": 1},
            "$unset": {RECENT_EVENTS: ""},
        }

        async def work(session: AsyncClientSession) -> VM | None:
            before = await self.vms.find_one_and_update(
                {"_id": oid, "revision": expected_revision},
                update,
                projection=MOVED_WITH,
                return_document=ReturnDocument.BEFORE,
                session=session,
            )
            if before is None:
                return None
            await self._record(event, oid, before, session)
            if usage:
                await self.ledger.charge(session, usage)
            vm = to_vm({**before, **changes, "revision": expected_revision + 1})
            await self._respond(ctx, session, vm)
            return vm

        return await self._compare_and_set(work, ctx, oid, vm_id, lambda: self._renamed(oid, name))

    async def _append(
        self, oid: ObjectId, vm_id: str, expected_revision: int, changes: Raw, event: Raw
    ) -> VM | None:
        """The update as one compare-and-set appending its event to the VM's array; None when
        that array has no room (the transaction's turn). NotFound or StaleRevision as usual."""
        if event["revision"] != expected_revision + 1:  # (no unique index checks the array)
            if event["revision"] > expected_revision:
                raise ValueError(f"the event of a write from {expected_revision} is not its next")
            raise WriteContention(f"revision {event['revision']} of the VM is already recorded")
        first = expected_revision == 1  # the `created` event too (recent.append)
        match = {"_id": oid, "revision": expected_revision, **room_for(2 if first else 1)}
        try:
            doc = await self.vms.find_one_and_update(
                match,
                append(changes, event, first),
                projection=VM_PROJECTION,
                return_document=ReturnDocument.AFTER,
            )
        except DuplicateKeyError:
            raise await self._renamed(oid, str(changes.get("name"))) from None
        if doc is not None:
            return to_vm(doc)
        revision = await self._current_revision(oid, None)
        if revision is None:
            raise NotFound(f"no VM with id {vm_id!r}")
        if revision != expected_revision:
            raise StaleRevision(revision)
        return None

    async def _renamed(self, oid: ObjectId, name: str) -> NameConflict:
        """The conflict of a rename to a name a live VM of its project holds."""
        mine = await self.vms.find_one({"_id": oid}, {"project": 1})
        if mine is None:
            return NameConflict(f"the name {name!r} was taken by another VM; retry")
        return await self._name_conflict(name, mine["project"])

    @translate_errors
    async def list_events(
        self,
        vm_id: str,
        limit: int,
        before_revision: int | None = None,
        projects: tuple[str, ...] | None = None,
    ) -> Events:
        """A VM's events, highest revision first, below `before_revision` when given, if it is
        in one of `projects` (None: any); the `created` event of a VM never written since its
        create is derived from the VM, the `purged` event of a VM purged by its retention from
        its `deleted` event."""
        oid = parse_id(vm_id)
        return await read_events(self.vms, self.events, oid, limit, before_revision, projects)


def not_purged(mongo_filter: Raw) -> Raw:
    """What a ListVMs filter needs besides itself: nothing when it takes live VMs only, else
    that the VM is not past its purge_at."""
    return {} if LIVE.items() <= mongo_filter.items() else unexpired(utcnow())
