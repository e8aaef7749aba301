"""MongoDB for the bulk use cases: names, one transaction for an atomic batch, snapshot exports."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
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
from service.domain.listing import LIVE, ListQuery, search_keys
from service.domain.schemas import VM
from service.storage.errors import driver_errors, translate_errors
from service.storage.stored import (
    VM_EVENTS_COLLECTION,
    VM_PROJECTION,
    VMS_COLLECTION,
    stored_vm,
    to_vm,
)
from service.storage.vm_store import BATCH_SESSION

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

    @translate_errors
    async def get_by_name(self, name: str) -> VM | None:
        """The live VM with this name ignoring case (unique among live VMs), if any."""
        client = self.vms.database.client
        with pymongo.timeout(client.options.timeout):
            doc = await self.vms.find_one(
                {"name_key": name.lower(), **LIVE}, VM_PROJECTION, session=BATCH_SESSION.get()
            )
        return None if doc is None else to_vm(doc)

    @translate_errors
    async def create_many(self, vms: list[Raw]) -> list[VM]:
        """Insert VMs (each with its creation record, from which its `created` event derives) in
        one transaction, all or none; a taken name (any case) -> NameConflict."""
        docs = [{"_id": ObjectId(), **stored_vm({**f, **search_keys(f)})} for f in vms]
        client = self.vms.database.client

        async def work(session: AsyncClientSession) -> None:
            await self.vms.insert_many(docs, session=session)

        try:
            async with client.start_session() as session:
                with pymongo.timeout(client.options.timeout):
                    await session.with_transaction(work)
        except DuplicateKeyError:
            raise NameConflict("a name of the group is taken") from None
        except BulkWriteError as exc:
            if any(e.get("code") == DUPLICATE_KEY for e in exc.details.get("writeErrors", [])):
                raise NameConflict("a name of the group is taken") from None
            raise
        return [to_vm(dict(doc)) for doc in docs]

    @translate_errors
    async def atomically(self, work: Callable[[], Awaitable[R]]) -> R:
        """Run `work` in one transaction: VMRepository's reads and writes inside join it.

        The driver retries the whole of `work` after a write conflict with another transaction.
        """
        client = self.vms.database.client

        async def attempt(session: AsyncClientSession) -> R:
            token = BATCH_SESSION.set(session)
            try:
                return await work()
            finally:
                BATCH_SESSION.reset(token)

        async with client.start_session() as session:
            with pymongo.timeout(ATOMIC_BATCH_TIMEOUT_S):
                return await session.with_transaction(attempt)

    async def export(self, query: ListQuery) -> AsyncIterator[list[VM]]:
        """Every VM matching `query.filter` in its order, read at one snapshot of the data."""
        client = self.vms.database.client
        direction = DESCENDING if query.descending else ASCENDING
        sort = [(query.sort_field, direction), ("_id", direction)]
        with driver_errors():
            async with client.start_session(snapshot=True) as session:
                cursor = self.vms.find(
                    query.filter,
                    VM_PROJECTION,
                    sort=sort,
                    session=session,
                    batch_size=EXPORT_BATCH_SIZE,
                )
                async with cursor:  # closed (killCursors) when the client goes away
                    docs = await self._first_read(cursor)
                    while docs:
                        yield [to_vm(doc) for doc in docs]
                        # Once streaming, a read slowed by load must not cut the answer short.
                        with pymongo.timeout(EXPORT_READ_TIMEOUT_S):
                            docs = await cursor.to_list(EXPORT_BATCH_SIZE)

    async def _first_read(self, cursor: AsyncCursor[Raw]) -> list[Raw]:
        """The export's first documents; a 503 as quickly as any read when MongoDB is down.

        MongoDB counts a find's time limit (maxTimeMS) over every getMore of its cursor, so the
        find gets EXPORT_SERVER_TIME_S, not MONGODB_TIMEOUT_MS, which would end a long export;
        the wait for the first documents is bounded here instead.
        """
        with pymongo.timeout(self.vms.database.client.options.timeout):
            await self.vms.database.command("ping")
        try:
            with pymongo.timeout(EXPORT_SERVER_TIME_S):  # the cursor's whole time on the server
                async with asyncio.timeout(self.vms.database.client.options.timeout):
                    return await cursor.to_list(EXPORT_BATCH_SIZE)
        except TimeoutError:
            raise DatabaseUnavailable() from None
