"""VM storage: VMs in `vms` with their history in `vm_events`, every write an atomic op."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any, TypeVar

import msgspec
import pymongo
from bson import ObjectId
from pymongo import DESCENDING, ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError, PyMongoError

from service.domain.errors import (
    DatabaseUnavailable,
    NameConflict,
    NotFound,
    WriteContention,
)
from service.domain.events import derived_created_event
from service.domain.idempotency import record_in_transaction, recording
from service.domain.listing import ListQuery, search_keys
from service.domain.listing.paging import page_queries
from service.domain.schemas import VM, VMEvent
from service.domain.vms import StaleRevision
from service.storage.errors import parse_id, translate_errors
from service.storage.stored import (
    CHANGEABLE_FIELDS,
    VM_EVENTS_COLLECTION,
    VM_PROJECTION,
    VMS_COLLECTION,
    WITH_CREATION,
    stored_vm,
    to_vm,
)
from service.storage.watch import cluster_time_token

R = TypeVar("R")

Raw = dict[str, Any]
Events = list[VMEvent]  # (inside VMRepository, `list` names the method)
VMs = list[VM]

BATCH_SESSION: ContextVar[AsyncClientSession | None] = ContextVar("batch_session", default=None)
"""The transaction of an atomic batch (service.storage.bulk): every read and write joins it."""


COUNT_TIMEOUT_S = 10


def to_event(doc: Raw) -> VMEvent:
    """Convert a raw `vm_events` document into the API's VMEvent."""
    doc["id"] = str(doc.pop("_id"))
    doc["vm_id"] = str(doc["vm_id"])
    return msgspec.convert(doc, VMEvent)


class VMRepository:
    """Stores VMs in `vms` and their history in `vm_events`: each write and its event commit
    together in one transaction, and every update is a compare-and-set on the revision."""

    def __init__(self, database: AsyncDatabase[Raw]) -> None:
        """Work on `vms` and `vm_events` of `database`."""
        self.vms: AsyncCollection[Raw] = database.get_collection(VMS_COLLECTION)
        self.events: AsyncCollection[Raw] = database.get_collection(VM_EVENTS_COLLECTION)

    async def _transaction(self, work: Callable[[AsyncClientSession], Awaitable[R]]) -> R:
        """Run `work` in one transaction: the driver retries transient errors (write conflicts,
        a failover) and unknown commit results, all within one MONGODB_TIMEOUT_MS deadline."""
        client = self.vms.database.client
        if (batch := BATCH_SESSION.get()) is not None:
            with pymongo.timeout(client.options.timeout):
                return await work(batch)
        async with client.start_session() as session:
            with pymongo.timeout(client.options.timeout):
                return await session.with_transaction(work)

    async def _record(
        self, event: Raw, oid: ObjectId, before: Raw | None, session: AsyncClientSession
    ) -> None:
        """Append `event` to the VM's history, after the VM's `created` event when `before` (the
        state the write replaced) still holds it unwritten; a revision recorded already aborts
        the write."""
        events = [{**event, "vm_id": oid}]
        if before is not None and (created := derived_created_event(before)) is not None:
            # The VM's id is its `created` event's id: the same whether derived or written.
            events.insert(0, {**created, "_id": oid, "vm_id": oid})
        try:
            await self.events.insert_many(events, session=session)
        except BulkWriteError as exc:
            if any(e.get("code") != 11000 for e in exc.details.get("writeErrors", [])):
                raise
            raise WriteContention(
                f"revision {event['revision']} of the VM is already recorded; retry"
            ) from None

    @translate_errors
    async def ping(self) -> None:
        """Raise DatabaseUnavailable unless MongoDB answers."""
        await self.vms.database.command("ping")

    @translate_errors
    async def create(self, fields: Raw) -> VM:
        """Insert a new VM, its creation record included; a taken name (any case) ->
        NameConflict. One single-document write: the `created` event is derived from the VM
        until the VM's first later write adds it to `vm_events` (see _record, list_events)."""
        doc = {"_id": ObjectId(), **stored_vm({**fields, **search_keys(fields)})}
        vm = to_vm(dict(doc))

        async def work(session: AsyncClientSession) -> VM:
            await self.vms.insert_one(doc, session=session)
            await record_in_transaction(session, vm)
            return vm

        try:
            # An Idempotency-Key's response commits with the VM; an atomic batch's session too.
            if recording() or BATCH_SESSION.get() is not None:
                return await self._transaction(work)
            await self.vms.insert_one(doc)
            return vm
        except DuplicateKeyError:
            raise NameConflict(f"a VM named {fields['name']!r} already exists") from None

    @translate_errors
    async def get_by_id(self, vm_id: str) -> VM:
        """Return the VM or raise NotFound."""
        doc = await self.vms.find_one(
            {"_id": parse_id(vm_id)}, VM_PROJECTION, session=BATCH_SESSION.get()
        )
        if doc is None:
            raise NotFound(f"no VM with id {vm_id!r}")
        return to_vm(doc)

    @translate_errors
    async def list(self, query: ListQuery) -> list[VM]:
        """Up to `query.limit` VMs in the query's order, starting after its keyset position."""
        items: list[VM] = []
        for mongo_filter, sort in page_queries(query, parse_id):
            cursor = self.vms.find(
                mongo_filter, VM_PROJECTION, sort=sort, limit=query.limit - len(items)
            )
            items.extend([to_vm(doc) async for doc in cursor])
            if len(items) >= query.limit:
                break
        return items

    @translate_errors
    async def list_with_watch_token(self, query: ListQuery) -> tuple[VMs, str]:
        """`list`, read from one snapshot, and the watch token of that snapshot's cluster time.

        A watch from the token delivers every change the page does not show (and maybe, at the
        seam, one it does: consumers drop revisions they hold).
        """
        items: list[VM] = []
        async with self.vms.database.client.start_session(snapshot=True) as session:
            for mongo_filter, sort in page_queries(query, parse_id):
                cursor = self.vms.find(
                    mongo_filter, VM_PROJECTION, sort=sort, limit=query.limit - len(items),
                    session=session,
                )  # fmt: skip
                items.extend([to_vm(doc) async for doc in cursor])
                if len(items) >= query.limit:
                    break
            # The read's atClusterTime (the driver keeps it; operationTime equals it too).
            moment = getattr(session, "_snapshot_time", None) or session.operation_time
        assert moment is not None
        return items, cluster_time_token(moment)

    @translate_errors
    async def count(self, query: ListQuery) -> int:
        """How many VMs match the query's filter (its keyset position is ignored)."""
        if not query.filter:
            # The collection's own count: O(1), where counting 1,000,000 index keys takes ~0.7 s.
            return await self.vms.estimated_document_count()
        try:
            # Counting may visit every match (~1.4 s for 136,000 of 1,000,000 on two filters).
            with pymongo.timeout(COUNT_TIMEOUT_S):
                return await self.vms.count_documents(query.filter)
        except PyMongoError as exc:
            if exc.timeout:
                raise DatabaseUnavailable(
                    f"counting the matches took over {COUNT_TIMEOUT_S} s; narrow the filters "
                    "or leave out include_total"
                ) from exc
            raise

    @translate_errors
    async def update(self, vm_id: str, expected_revision: int, changes: Raw, event: Raw) -> VM:
        """Set `changes` and record `event` if the VM is still at `expected_revision`."""
        oid = parse_id(vm_id)
        if unknown := changes.keys() - CHANGEABLE_FIELDS:
            raise ValueError(f"not changeable fields of a stored VM: {sorted(unknown)}")

        # The write from revision 1 also adds the `created` event, derived from the state it
        # replaces: it reads that state (BEFORE) and computes the new one.
        first = expected_revision == 1
        update = {"$set": {**changes, **search_keys(changes)}, "$inc": {"revision": 1}}

        async def work(session: AsyncClientSession) -> VM | None:
            doc = await self.vms.find_one_and_update(
                {"_id": oid, "revision": expected_revision},
                update,
                projection=WITH_CREATION if first else VM_PROJECTION,
                return_document=ReturnDocument.BEFORE if first else ReturnDocument.AFTER,
                session=session,
            )
            if doc is None:
                return None
            await self._record(event, oid, doc if first else None, session)
            if first:
                doc = {**doc, **changes, "revision": expected_revision + 1}
            vm = to_vm(doc)
            await record_in_transaction(session, vm)
            return vm

        try:
            vm = await self._transaction(work)
        except DuplicateKeyError:
            raise NameConflict(f"a VM named {changes.get('name')!r} already exists") from None
        if vm is None:
            await self._raise_missing_or_stale(oid, vm_id)
        assert vm is not None
        return vm

    @translate_errors
    async def delete(self, vm_id: str, expected_revision: int, event: Raw) -> None:
        """Delete the VM if it is still at `expected_revision`, recording `event` with it."""
        oid = parse_id(vm_id)

        first = expected_revision == 1  # then the `created` event is recorded too (see update)

        async def work(session: AsyncClientSession) -> bool:
            before = await self.vms.find_one_and_delete(
                {"_id": oid, "revision": expected_revision},
                projection=WITH_CREATION if first else {"_id": 1},
                session=session,
            )
            if before is None:
                return False
            await self._record(event, oid, before if first else None, session)
            await record_in_transaction(session, None)
            return True

        if not await self._transaction(work):
            await self._raise_missing_or_stale(oid, vm_id)

    @translate_errors
    async def list_events(
        self, vm_id: str, limit: int, before_revision: int | None = None
    ) -> Events:
        """A VM's events, highest revision first, below `before_revision` when given; the
        `created` event of a VM never written since its create is derived from the VM."""
        oid = parse_id(vm_id)
        query: Raw = {"vm_id": oid}
        if before_revision is not None:
            query["revision"] = {"$lt": before_revision}
        found = await self._events(query, limit)
        wants_first = before_revision is None or before_revision > 1
        if len(found) == limit or not wants_first or (found and found[-1].revision == 1):
            return found
        pending = {"_id": oid, "revision": 1, "created_by": {"$exists": True}}
        state = await self.vms.find_one(pending, WITH_CREATION)
        if state is not None and (created := derived_created_event(state)) is not None:
            return [*found, to_event({**created, "_id": oid, "vm_id": oid})]
        # A write between the two reads may have recorded the `created` event since: read again.
        return await self._events(query, limit)

    async def _events(self, query: Raw, limit: int) -> Events:
        cursor = self.events.find(query, limit=limit).sort("revision", DESCENDING)
        return [to_event(doc) async for doc in cursor]

    async def _raise_missing_or_stale(self, oid: ObjectId, vm_id: str) -> None:
        """After a compare-and-set matched nothing: NotFound, or the internal StaleRevision (the
        service decides whether the client sees 412 or the write is retried)."""
        current = await self.vms.find_one(
            {"_id": oid}, {"revision": 1}, session=BATCH_SESSION.get()
        )
        if current is None:
            raise NotFound(f"no VM with id {vm_id!r}")
        raise StaleRevision(int(current["revision"]))
