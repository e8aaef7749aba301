"""The plumbing every VM write shares: the collections, one transaction per write (or the
atomic batch's: the WriteContext's `session`), the history record of a write, the response it
records under the request's Idempotency-Key (the WriteContext's `claim`), and what a
compare-and-set that missed means."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pymongo
from bson import ObjectId
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from service.domain.errors import NameConflict, NotFound, WriteContention
from service.domain.events import WriteContext
from service.domain.listing import LIVE
from service.domain.repository import StaleRevision
from service.domain.rules import utcnow
from service.storage.recent import moved
from service.storage.shielded import in_transaction
from service.storage.stored import VM_EVENTS_COLLECTION, VMS_COLLECTION, unexpired
from service.storage.usage import UsageLedger

R = TypeVar("R")
Raw = dict[str, Any]


def batch_session(ctx: WriteContext | None) -> AsyncClientSession | None:
    """The atomic batch's transaction (service.storage.bulk) a read or write joins, if any."""
    return None if ctx is None else ctx.session


class VMStore:
    """`vms`, `vm_events` and the projects' usage, and what every write of VMRepository uses."""

    def __init__(self, database: AsyncDatabase[Raw]) -> None:
        """Work on `vms`, `vm_events` and `project_usage` of `database`."""
        self.vms: AsyncCollection[Raw] = database.get_collection(VMS_COLLECTION)
        self.events: AsyncCollection[Raw] = database.get_collection(VM_EVENTS_COLLECTION)
        self.ledger = UsageLedger(database)

    async def _write(
        self, work: Callable[[AsyncClientSession], Awaitable[R]], ctx: WriteContext | None
    ) -> R:
        """Run `work` in the atomic batch's transaction when `ctx` is in one, else in its own."""
        if (batch := batch_session(ctx)) is not None:
            with pymongo.timeout(self.vms.database.client.options.timeout):
                return await work(batch)
        return await self._transaction(work)

    async def _transaction(self, work: Callable[[AsyncClientSession], Awaitable[R]]) -> R:
        """Run `work` in one transaction: the driver retries transient errors (write conflicts,
        a failover) and unknown commit results, all within one MONGODB_TIMEOUT_MS deadline; a
        cancelled caller leaves it to finish (see shielded.in_transaction)."""
        client = self.vms.database.client
        return await in_transaction(client, work, client.options.timeout)

    @staticmethod
    async def _respond(ctx: WriteContext | None, session: AsyncClientSession, result: Any) -> None:
        """Inside a write's transaction: record the response to `result` (the VM it commits, or
        None) under the request's Idempotency-Key, if it holds one (Claim.record)."""
        if ctx is not None and ctx.claim is not None:
            await ctx.claim.record(session, result)

    async def _record(
        self, event: Raw, oid: ObjectId, before: Raw | None, session: AsyncClientSession
    ) -> None:
        """Append `event` to `vm_events`, after the events `before` (the state the write
        replaced, read with MOVED_WITH) held outside it, which the write moves there
        (recent.moved); a revision recorded already aborts the write."""
        events = [*(() if before is None else moved(before, oid)), {**event, "vm_id": oid}]
        try:
            await self.events.insert_many(events, session=session)
        except BulkWriteError as exc:
            if any(e.get("code") != 11000 for e in exc.details.get("writeErrors", [])):
                raise
            raise WriteContention(
                f"revision {event['revision']} of the VM is already recorded; retry"
            ) from None

    async def _current_revision(
        self, oid: ObjectId, ctx: WriteContext | None, include_deleted: bool = False
    ) -> int | None:
        """The VM's revision now; None when it is missing (a deleted VM is, unless
        `include_deleted`; past its purge_at it is missing to all)."""
        match = {"_id": oid, **(unexpired(utcnow()) if include_deleted else LIVE)}
        current = await self.vms.find_one(match, {"revision": 1}, session=batch_session(ctx))
        return None if current is None else int(current["revision"])

    async def _name_conflict(self, name: str, project: str) -> NameConflict:
        """The conflict of a write whose name (any case) a live VM of its project holds, naming
        that VM (`holder_id`; read outside the failed write's transaction, which its error
        ended)."""
        holder = await self.vms.find_one(
            {"project": project, "name_key": name.lower(), **LIVE}, {"_id": 1}
        )
        if holder is None:  # the holder went away meanwhile: retrying may succeed
            return NameConflict(f"the name {name!r} was taken by another VM; retry")
        return NameConflict(
            f"the name {name!r} is taken by the VM {holder['_id']}; rename or delete that VM first",
            holder_id=str(holder["_id"]),
        )

    async def _raise_missing_or_stale(
        self,
        oid: ObjectId,
        vm_id: str,
        ctx: WriteContext | None,
        include_deleted: bool = False,
    ) -> None:
        """After a compare-and-set matched nothing: NotFound (a deleted VM is missing unless
        `include_deleted`), or the internal StaleRevision (the service decides whether the client
        sees 412 or the write is retried); past its purge_at a deleted VM is missing to all."""
        revision = await self._current_revision(oid, ctx, include_deleted)
        if revision is None:
            raise NotFound(f"no VM with id {vm_id!r}")
        raise StaleRevision(revision)

    async def _compare_and_set(
        self,
        work: Callable[[AsyncClientSession], Awaitable[R | None]],
        ctx: WriteContext | None,
        oid: ObjectId,
        vm_id: str,
        conflict: Callable[[], Awaitable[NameConflict]],
        include_deleted: bool = False,
    ) -> R:
        """Run the compare-and-set `work` (None: it matched nothing): a name a live VM holds
        raises `conflict()`, a miss NotFound or StaleRevision (_raise_missing_or_stale)."""
        try:
            result = await self._write(work, ctx)
        except DuplicateKeyError:
            raise await conflict() from None
        if result is None:
            await self._raise_missing_or_stale(oid, vm_id, ctx, include_deleted)
        assert result is not None
        return result
