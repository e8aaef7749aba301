"""The server's schema guard: an in-memory "schema ok" flag, refreshed by a background watcher."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError

from service.domain.apikeys import ApiKey
from service.domain.errors import DatabaseUnavailable
from service.storage.api_keys import ApiKeyRepository
from service.storage.migrations import servers
from service.storage.migrations.lock import held_seconds
from service.storage.migrations.runner import HISTORY
from service.storage.migrations.scripts import discover

log = logging.getLogger("service.schema")
UP_COMMAND = "python -m service migrate up"


def needed_version() -> int:
    """The newest migration this code knows: the schema version it needs to serve."""
    return max((s.version for s in discover()[0]), default=0)


async def schema_problem(
    db: AsyncDatabase[dict[str, Any]], needs_version: int
) -> tuple[str | None, str | None]:
    """Why a server needing `needs_version` must not serve now (or None), and the owner of a
    running `migrate down` below that version (or None)."""
    marker = await servers.going_down(db, needs_version)
    if marker is not None:
        return (
            f"`migrate down --to {marker['going_down_to']}` ({marker['owner']}) is rolling the "
            f"schema back below version {needs_version}, which this server needs",
            marker["owner"],
        )
    applied = set(await db[HISTORY].distinct("_id", {"_id": {"$lte": needs_version}}))
    if missing := sorted(set(range(1, needs_version + 1)) - applied):
        versions = ", ".join(f"{v:04d}" for v in missing)
        return (
            f"the database schema lacks version(s) {versions}; this server needs version "
            f"{needs_version}: run `{UP_COMMAND}`",
            None,
        )
    return None, None


class SchemaGuard:
    """Whether this server may use the database, as of the last check (every `check_seconds`).

    Request handlers read `reason` (None: serve) and count themselves in `in_flight`; the watcher
    (`run`) rechecks, heartbeats in `schema_servers`, and acknowledges a `migrate down` only once
    no request that passed the check is still running.
    """

    def __init__(
        self,
        db: AsyncDatabase[dict[str, Any]],
        needs_version: int,
        check_seconds: float,
        reason: str | None = None,
    ) -> None:
        """Start with `reason` until the first check (None: ok, the caller has just checked)."""
        self.db = db
        self.needs_version = needs_version
        self.check_seconds = check_seconds
        self.lease_seconds = max(5.0, 5 * check_seconds)
        self.id = servers.server_id()
        self.reason = reason
        self.in_flight = 0
        self._checked_at = time.monotonic()

    async def refresh(self) -> str | None:
        """Check the schema once and set `reason`; return the down runner to acknowledge, if any."""
        try:
            reason, going_down = await schema_problem(self.db, self.needs_version)
        except PyMongoError as exc:
            # Unchecked for half a lease: others may already count this server as gone.
            if time.monotonic() - self._checked_at > self.lease_seconds / 2:
                self._set(f"could not check the database schema ({type(exc).__name__})")
            return None
        self._checked_at = time.monotonic()
        self._set(reason)
        if going_down is None:
            return None
        drain_until = time.monotonic() + self.lease_seconds
        # Polling a counter costs nothing per request; an Event would cost every request a call.
        while self.in_flight and time.monotonic() < drain_until:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
        return going_down

    async def migration_lock_seconds(self) -> float | None:
        """How long a migration runner has held the lock (0.0: nobody; None: no answer)."""
        try:
            return await held_seconds(self.db)
        except PyMongoError:
            return None

    def _set(self, reason: str | None) -> None:
        if reason != self.reason:
            if reason is None:
                log.warning("schema ok again (version %d available): serving", self.needs_version)
            else:
                log.error("not serving: %s", reason)
        self.reason = reason

    async def run(self) -> None:
        """Check and heartbeat every `check_seconds` until cancelled."""
        while True:
            stopped_for = await self.refresh()
            with contextlib.suppress(PyMongoError):
                await servers.beat(
                    self.db,
                    self.id,
                    self.needs_version,
                    self.lease_seconds,
                    schema_ok=self.reason is None,
                    stopped_for=stopped_for,
                )
            await asyncio.sleep(self.check_seconds)

    async def stop(self) -> None:
        """Delete this server's heartbeat (best effort: a lost one expires with its lease)."""
        with contextlib.suppress(PyMongoError):
            await servers.forget(self.db, self.id)


class GuardedKeys(ApiKeyRepository):
    """API key look-ups only while the schema is ok: with `api_keys` rolled back a client gets
    503 (retry later), not 401 (its key is fine)."""

    def __init__(self, database: AsyncDatabase[dict[str, Any]], guard: SchemaGuard) -> None:
        """Look keys up in `database` while `guard` allows."""
        super().__init__(database)
        self.guard = guard

    async def find(self, token: str) -> ApiKey | None:
        """The key with this token, or None; 503 while the schema is not ok."""
        if (reason := self.guard.reason) is not None:
            raise DatabaseUnavailable(f"not ready: {reason}")
        return await super().find(token)
