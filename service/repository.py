"""The only module that talks to MongoDB: VM storage, error translation, atomic writes."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Coroutine
from datetime import datetime
from typing import Any, ParamSpec, TypeVar

import msgspec
import pymongo
from bson import ObjectId
from bson.errors import InvalidId
from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, ConnectionFailure, DuplicateKeyError, PyMongoError

from service.errors import (
    DatabaseUnavailable,
    IdempotencyKeyInFlight,
    NameConflict,
    NotFound,
    WriteContention,
)
from service.events import derived_created_event
from service.idempotency import KeyRecord, StoredResponse, record_in_transaction, recording
from service.listing import ListQuery, search_keys
from service.schemas import VM, VMEvent
from service.services import StaleRevision
from service.stored import (
    CHANGEABLE_FIELDS,
    IDEMPOTENCY_COLLECTION,
    VM_EVENTS_COLLECTION,
    VM_PROJECTION,
    VMS_COLLECTION,
    WITH_CREATION,
    stored_vm,
    to_vm,
)

P = ParamSpec("P")
R = TypeVar("R")

Raw = dict[str, Any]
Events = list[VMEvent]  # (inside VMRepository, `list` names the method)


def translate_errors(
    fn: Callable[P, Coroutine[Any, Any, R]],
) -> Callable[P, Coroutine[Any, Any, R]]:
    """Turn driver errors meaning "MongoDB is unreachable or too slow" into DatabaseUnavailable."""

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await fn(*args, **kwargs)
        except ConnectionFailure as exc:
            raise DatabaseUnavailable() from exc
        except PyMongoError as exc:
            if exc.timeout:
                raise DatabaseUnavailable() from exc
            raise

    return wrapper


def parse_id(vm_id: str) -> ObjectId:
    """Parse a VM id; a malformed one is simply an id no VM has."""
    try:
        return ObjectId(vm_id)
    except (InvalidId, TypeError):
        raise NotFound(f"no VM with id {vm_id!r}") from None


COUNT_TIMEOUT_S = 10


def page_queries(query: ListQuery) -> list[tuple[Raw, list[tuple[str, int]]]]:
    """The finds that make one page: after a token, the rest of the tie group (when the previous
    page saw one continue), then the VMs beyond it.

    Each is a plain conjunction with one sort, so MongoDB bounds the scan on the compound index
    (filter field, sort key, _id) exactly; a single `$or` keyset loses those bounds once a
    filter has several values.
    """
    direction = DESCENDING if query.descending else ASCENDING
    sort = [(query.sort_field, direction), ("_id", direction)]
    if query.after is None:
        return [(query.filter, sort)]
    cursor = query.after
    beyond = "$lt" if query.descending else "$gt"
    rest = (_and(query.filter, {query.sort_field: {beyond: cursor.value}}), sort)
    if not cursor.ties:
        return [rest]
    tie = {query.sort_field: cursor.value, "_id": {beyond: parse_id(cursor.id)}}
    return [(_and(query.filter, tie), sort), rest]


def _and(base: Raw, extra: Raw) -> Raw:
    return {"$and": [base, extra]} if base else extra


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
            if recording():  # an Idempotency-Key's response commits with the VM
                return await self._transaction(work)
            await self.vms.insert_one(doc)
            return vm
        except DuplicateKeyError:
            raise NameConflict(f"a VM named {fields['name']!r} already exists") from None

    @translate_errors
    async def get_by_id(self, vm_id: str) -> VM:
        """Return the VM or raise NotFound."""
        doc = await self.vms.find_one({"_id": parse_id(vm_id)}, VM_PROJECTION)
        if doc is None:
            raise NotFound(f"no VM with id {vm_id!r}")
        return to_vm(doc)

    @translate_errors
    async def list(self, query: ListQuery) -> list[VM]:
        """Up to `query.limit` VMs in the query's order, starting after its keyset position."""
        items: list[VM] = []
        for mongo_filter, sort in page_queries(query):
            cursor = self.vms.find(
                mongo_filter, VM_PROJECTION, sort=sort, limit=query.limit - len(items)
            )
            items.extend([to_vm(doc) async for doc in cursor])
            if len(items) >= query.limit:
                break
        return items

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
        current = await self.vms.find_one({"_id": oid}, {"revision": 1})
        if current is None:
            raise NotFound(f"no VM with id {vm_id!r}")
        raise StaleRevision(int(current["revision"]))


class IdempotencyRepository:
    """Idempotency keys in `idempotency_keys`: unique per (scope, key), removed by a TTL index."""

    def __init__(self, database: AsyncDatabase[Raw]) -> None:
        """Work on `idempotency_keys` of `database`."""
        self.keys: AsyncCollection[Raw] = database.get_collection(IDEMPOTENCY_COLLECTION)

    @translate_errors
    async def claim(
        self,
        scope: str,
        key: str,
        fingerprint: str,
        lease: str,
        now: datetime,
        expired_before: datetime,
    ) -> KeyRecord | None:
        """Claim the key by inserting it (the unique index decides), else return its record."""
        for _ in range(3):
            try:
                await self.keys.insert_one(
                    {"scope": scope, "key": key, "fingerprint": fingerprint, "lease": lease,
                     "created_at": now, "locked_at": now, "response": None}
                )  # fmt: skip
                return None
            except DuplicateKeyError:
                doc = await self.keys.find_one({"scope": scope, "key": key}, {"_id": 0})
            if doc is None:
                continue  # it expired just now: claim again
            if doc["created_at"] < expired_before:  # the TTL monitor runs only once a minute
                await self.keys.delete_one(
                    {"scope": scope, "key": key, "created_at": doc["created_at"]}
                )
                continue
            return msgspec.convert(doc, KeyRecord)
        raise IdempotencyKeyInFlight("the idempotency key keeps changing hands; retry shortly")

    @translate_errors
    async def take_over(
        self, scope: str, key: str, locked_at: datetime, lease: str, now: datetime
    ) -> bool:
        """Re-claim an abandoned key (still unfinished and locked at `locked_at`) under `lease`."""
        result = await self.keys.update_one(
            {"scope": scope, "key": key, "locked_at": locked_at, "response": None},
            {"$set": {"locked_at": now, "lease": lease}},
        )
        return result.modified_count == 1

    @translate_errors
    async def complete(
        self,
        scope: str,
        key: str,
        lease: str,
        response: StoredResponse,
        session: AsyncClientSession | None = None,
    ) -> bool:
        """Store the first response of a key still held under `lease`; False if it is not."""
        result = await self.keys.update_one(
            {"scope": scope, "key": key, "lease": lease, "response": None},
            {"$set": {"response": msgspec.to_builtins(response)}},
            session=session,
        )
        return result.matched_count == 1

    @translate_errors
    async def release(self, scope: str, key: str, lease: str) -> None:
        """Forget an unfinished claim held under `lease`."""
        await self.keys.delete_one({"scope": scope, "key": key, "lease": lease, "response": None})
