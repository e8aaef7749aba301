"""The migration lock: one document with an owner and a lease that lapses if the owner dies."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
import uuid
from types import TracebackType
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError, PyMongoError

LOCK_COLLECTION = "schema_migrations_lock"
LOCK_ID = "migrations"


class LockBusy(Exception):
    """Another runner held the migration lock for longer than we were willing to wait."""


def default_owner() -> str:
    """A name for this runner that an operator can trace: host, pid and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


async def held_seconds(db: AsyncDatabase[dict[str, Any]]) -> float:
    """How long the lock has been held by a live lease, by the server's clock (0.0: it is free, or
    its holder died and the lease lapsed). One read by _id: cheap enough for every scrape."""
    held = await db[LOCK_COLLECTION].find_one(
        {"_id": LOCK_ID, "$expr": {"$gt": ["$expires_at", "$$NOW"]}},
        {"_id": 0, "held_ms": {"$subtract": ["$$NOW", "$acquired_at"]}},
    )
    held_ms = held.get("held_ms") if held is not None else None
    return max(0.0, held_ms / 1000) if isinstance(held_ms, int | float) else 0.0


class MigrationLock:
    """An async context manager holding the lock, renewing its lease until exit.

    Expiry is computed with the server's clock (`$$NOW`), so runners on hosts with skewed clocks
    still agree on when a lease has run out.
    """

    def __init__(
        self,
        db: AsyncDatabase[dict[str, Any]],
        owner: str | None = None,
        lease_seconds: float = 30.0,
        wait_seconds: float = 60.0,
    ) -> None:
        """Describe the lock in `db`; acquire() waits up to `wait_seconds` for a holder."""
        self.collection = db[LOCK_COLLECTION]
        self.owner = owner or default_owner()
        self.lease_ms = int(lease_seconds * 1000)
        self.wait_seconds = wait_seconds
        self.lost = False
        self._heartbeat: asyncio.Task[None] | None = None

    async def _take(self) -> dict[str, Any] | None:
        """Take the lock if it is free, expired or ours; return None on success, else the holder."""
        # One atomic upsert; the pipeline keeps the holder unless its lease has lapsed ($expr is
        # not allowed in an upsert's filter, so the decision is made inside the update).
        take = {
            "$or": [
                {"$eq": ["$owner", self.owner]},
                {"$not": [{"$gt": ["$expires_at", "$$NOW"]}]},
            ]
        }
        new = {
            "owner": self.owner,
            "acquired_at": "$$NOW",
            "expires_at": {"$add": ["$$NOW", self.lease_ms]},
        }
        pipeline: list[dict[str, Any]] = [
            {"$set": {"_take": take}},
            {"$set": {k: {"$cond": ["$_take", v, f"${k}"]} for k, v in new.items()}},
            # A dead runner's "going down" mark must not come back to life with our lease.
            {"$set": {"going_down_to": {"$cond": ["$_take", "$$REMOVE", "$going_down_to"]}}},
            {"$unset": "_take"},
        ]
        try:
            doc = await self.collection.find_one_and_update(
                {"_id": LOCK_ID}, pipeline, upsert=True, return_document=ReturnDocument.AFTER
            )
        except DuplicateKeyError:  # another runner inserted the lock at the same moment
            doc = await self.collection.find_one({"_id": LOCK_ID})
        if doc is not None and doc.get("owner") == self.owner:
            return None
        return doc or {}

    async def acquire(self) -> None:
        """Wait (up to `wait_seconds`) until the lock is free or its lease expired, then take it."""
        deadline = time.monotonic() + self.wait_seconds
        while (holder := await self._take()) is not None:
            if time.monotonic() >= deadline:
                raise LockBusy(
                    f"another migration runner ({holder.get('owner')}) holds the lock until "
                    f"{holder.get('expires_at')} UTC; waited {self.wait_seconds:g} s. Run again "
                    "when it has finished (a runner that died releases the lock when its lease "
                    "expires)."
                )
            await asyncio.sleep(min(0.5, max(0.05, deadline - time.monotonic())))
        self._heartbeat = asyncio.create_task(self._renew_forever())

    async def renew(self) -> bool:
        """Extend our lease; False when the lock is no longer ours."""
        result = await self.collection.update_one(
            {"_id": LOCK_ID, "owner": self.owner},
            [{"$set": {"expires_at": {"$add": ["$$NOW", self.lease_ms]}}}],
        )
        return result.matched_count == 1

    async def mark_going_down(self, to: int) -> bool:
        """Tell running servers that versions above `to` are about to be rolled back.

        Servers needing more than `to` stop using the database while the mark is on a live lease;
        it goes with the lock (released, or expired when this runner dies). False: lock lost.
        """
        result = await self.collection.update_one(
            {"_id": LOCK_ID, "owner": self.owner}, {"$set": {"going_down_to": to}}
        )
        self.lost = self.lost or result.matched_count != 1
        return not self.lost

    async def _renew_forever(self) -> None:
        while not self.lost:
            await asyncio.sleep(self.lease_ms / 3000)
            try:
                self.lost = not await self.renew()
            except PyMongoError:
                continue  # a blip: the lease is three periods long, try again next period

    async def release(self) -> None:
        """Stop renewing and delete the lock document if it is still ours."""
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeat
            self._heartbeat = None
        await self.collection.delete_one({"_id": LOCK_ID, "owner": self.owner})

    async def __aenter__(self) -> MigrationLock:
        """Acquire the lock."""
        await self.acquire()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Release the lock."""
        await self.release()
