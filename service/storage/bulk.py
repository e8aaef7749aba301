"""MongoDB for the bulk use cases: names, one transaction for an atomic batch, snapshot exports."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any, TypeVar

import pymongo
from bson import ObjectId
from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.cursor import AsyncCursor
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from service.domain.errors import DatabaseUnavailable, NameConflict
from service.domain.events import WriteContext
from service.domain.listing import LIVE, ListQuery, search_keys
from service.domain.projects import UsageChange
from service.domain.schemas import VM
from service.storage.errors import driver_errors, translate_errors
from service.storage.shielded import InOrder, in_transaction, shielded
from service.storage.stored import (
    VM_EVENTS_COLLECTION,
    VM_PROJECTION,
    VMS_COLLECTION,
    stored_vm,
    to_vm,
)
from service.storage.usage import UsageLedger
from service.storage.vm_store import batch_session

R = TypeVar("R")
Raw = dict[str, Any]
ATOMIC_BATCH_TIMEOUT_S = 30  # the whole transaction; each read or write keeps MONGODB_TIMEOUT_MS
EXPORT_BATCH_SIZE = 100  # one read and one chunk: ~1 MB at most (64 labels, 1 KiB text each)
EXPORT_READ_TIMEOUT_S = 60  # each read of an export after its first
EXPORT_SERVER_TIME_S = 3600  # MongoDB's time for one export's cursor, all its reads together
DUPLICATE_KEY = 11000


class BulkVMRepository:
    """Reads by name, the atomic batch's transaction and exports, on the `vms` collection."""

    def __init__(self, database: AsyncDatabase[Raw]) -> None:
        """Work on `vms` of `database`."""
        self.vms: AsyncCollection[Raw] = database.get_collection(VMS_COLLECTION)
        self.events: AsyncCollection[Raw] = database.get_collection(VM_EVENTS_COLLECTION)
        self.ledger = UsageLedger(database)

    @translate_errors
    async def get_by_name(
        self, name: str, project: str, ctx: WriteContext | None = None
    ) -> VM | None:
        """The live VM of `project` with this name ignoring case (unique among its live VMs), if
        any; read in the atomic batch's transaction when `ctx` is in one."""
        client = self.vms.database.client
        match = {"project": project, "name_key": name.lower(), **LIVE}
        with pymongo.timeout(client.options.timeout):
            doc = await self.vms.find_one(match, VM_PROJECTION, session=batch_session(ctx))
        return None if doc is None else to_vm(doc)

    @translate_errors
    async def names_of(self, vm_ids: list[str]) -> dict[str, str]:
        """The names of the live VMs among `vm_ids` (an id no VM has is left out), by id."""
        oids = [ObjectId(i) for i in {i.lower() for i in vm_ids} if ObjectId.is_valid(i)]
        if not oids:
            return {}
        client = self.vms.database.client
        with pymongo.timeout(client.options.timeout):
            cursor = self.vms.find({"_id": {"$in": oids}, **LIVE}, {"name": 1})
            return {str(doc["_id"]): doc["name"] async for doc in cursor}

    @translate_errors
    async def create_many(self, vms: list[Raw], usage: list[UsageChange]) -> list[VM]:
        """Insert VMs (each with its creation record, from which its `created` event derives)
        with their projects' `usage` changes in one transaction, all or none; a taken name (any
        case) -> NameConflict, past a quota -> QuotaExceeded."""
        docs = [{"_id": ObjectId(), **stored_vm({**f, **search_keys(f)})} for f in vms]
        client = self.vms.database.client

        async def work(session: AsyncClientSession) -> None:
            await self.vms.insert_many(docs, session=session)
            for change in usage:
                await self.ledger.charge(session, change)

        try:
            await in_transaction(client, work, client.options.timeout)
        except DuplicateKeyError:
            raise NameConflict("a name of the group is taken") from None
        except BulkWriteError as exc:
            if any(e.get("code") == DUPLICATE_KEY for e in exc.details.get("writeErrors", [])):
                raise NameConflict("a name of the group is taken") from None
            raise
        return [to_vm(dict(doc)) for doc in docs]

    @translate_errors
    async def atomically(self, work: Callable[[AsyncClientSession], Awaitable[R]]) -> R:
        """Run `work(session)` in one transaction: VMRepository's reads and writes given the
        session (as their WriteContext's) join it.

        The driver retries the whole of `work` after a write conflict with another transaction.
        """
        client = self.vms.database.client
        return await in_transaction(client, work, ATOMIC_BATCH_TIMEOUT_S)

    async def export(self, query: ListQuery) -> AsyncGenerator[list[VM]]:
        """Every VM matching `query.filter` in its order, read at one snapshot of the data.

        Each read runs in a task of its own (shielded): a client that goes away stops the
        export between reads, and the cursor and session are then closed, always.
        """
        client = self.vms.database.client
        direction = DESCENDING if query.descending else ASCENDING
        sort = [(query.sort_field, direction), ("_id", direction)]
        session = client.start_session(snapshot=True)
        cursor = self.vms.find(
            query.filter, VM_PROJECTION, sort=sort, session=session, batch_size=EXPORT_BATCH_SIZE
        )
        calls = InOrder()

        async def close() -> None:
            try:
                with pymongo.timeout(client.options.timeout):
                    await cursor.close()  # killCursors when not exhausted (retried if it fails)
            finally:
                await session.end_session()

        stuck = False
        try:
            with driver_errors():
                docs = await self._first_read(cursor, calls)
            if docs is None:
                stuck = True
                raise DatabaseUnavailable()
            while docs:
                yield [to_vm(doc) for doc in docs]
                # Once streaming, a read slowed by load must not cut the answer short.
                with driver_errors(), pymongo.timeout(EXPORT_READ_TIMEOUT_S):
                    docs = await calls.run(lambda: cursor.to_list(EXPORT_BATCH_SIZE))
        finally:
            closing = calls.start(close)  # after the read in flight, if any
            if not stuck:  # (a stuck first read is not waited for: the answer is a quick 503)
                await asyncio.shield(closing)

    async def _first_read(self, cursor: AsyncCursor[Raw], calls: InOrder) -> list[Raw] | None:
        """The export's first documents; None when MongoDB did not answer within
        MONGODB_TIMEOUT_MS (a 503, as quick as for any read).

        MongoDB counts a find's time limit (maxTimeMS) over every getMore of its cursor, so the
        find gets EXPORT_SERVER_TIME_S, not MONGODB_TIMEOUT_MS, which would end a long export.
        The wait for the first documents is bounded here instead, without cancelling the find:
        it finishes in its own task, and the cursor is closed after it.
        """
        client = self.vms.database.client
        with pymongo.timeout(client.options.timeout):
            await shielded(self.vms.database.command("ping"))
        with pymongo.timeout(EXPORT_SERVER_TIME_S):  # the cursor's whole time on the server
            first = calls.start(lambda: cursor.to_list(EXPORT_BATCH_SIZE))
        await asyncio.wait([first], timeout=client.options.timeout)
        return first.result() if first.done() else None
