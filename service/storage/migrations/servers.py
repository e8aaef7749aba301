"""Running servers' heartbeats: which schema version each needs, for `migrate down` to respect."""

from __future__ import annotations

import asyncio
import os
import socket
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from service.storage.migrations.lock import LOCK_COLLECTION, LOCK_ID, MigrationLock

SERVERS = "schema_servers"
FORGET_AFTER = timedelta(days=1)  # heartbeats of servers gone this long are deleted


@dataclass(frozen=True)
class Server:
    """One server's last heartbeat."""

    id: str
    host: str
    pid: int
    needs_version: int
    started_at: datetime
    last_seen: datetime
    stopped_for: str | None

    def describe(self) -> str:
        """`host pid N (started ..., last seen ...) needs version V`."""
        return (
            f"{self.host} pid {self.pid} (started {self.started_at:%Y-%m-%dT%H:%M:%SZ}, "
            f"last seen {self.last_seen:%H:%M:%SZ}) needs version {self.needs_version}"
        )


def server_id() -> str:
    """A name for this server process: host, pid and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


async def beat(
    db: AsyncDatabase[dict[str, Any]],
    ident: str,
    needs_version: int,
    lease_seconds: float,
    *,
    schema_ok: bool,
    stopped_for: str | None,
) -> None:
    """Record that server `ident` is alive for `lease_seconds` more (on the server's clock)."""
    now = "$$NOW"
    await db[SERVERS].update_one(
        {"_id": ident},
        [
            {
                "$set": {
                    "host": socket.gethostname(),
                    "pid": os.getpid(),
                    "needs_version": needs_version,
                    "started_at": {"$ifNull": ["$started_at", now]},
                    "last_seen": now,
                    "expires_at": {"$add": [now, int(lease_seconds * 1000)]},
                    "schema_ok": schema_ok,
                    "stopped_for": stopped_for,
                }
            }
        ],
        upsert=True,
    )


async def forget(db: AsyncDatabase[dict[str, Any]], ident: str) -> None:
    """Delete this server's heartbeat (it is stopping)."""
    await db[SERVERS].delete_one({"_id": ident})


async def live_servers(db: AsyncDatabase[dict[str, Any]]) -> list[Server]:
    """Servers whose heartbeat lease has not run out, oldest first; long-gone ones are deleted."""
    cutoff = datetime.now(UTC) - FORGET_AFTER
    await db[SERVERS].delete_many({"expires_at": {"$lt": cutoff}})
    live = {"$expr": {"$gt": ["$expires_at", "$$NOW"]}}
    return [
        Server(
            d["_id"],
            d["host"],
            d["pid"],
            d["needs_version"],
            d["started_at"],
            d["last_seen"],
            d.get("stopped_for"),
        )
        async for d in db[SERVERS].find(live).sort("started_at", 1)
    ]


async def going_down(
    db: AsyncDatabase[dict[str, Any]], needs_version: int
) -> dict[str, Any] | None:
    """The live lock of a `migrate down` below `needs_version`, if one is running."""
    return await db[LOCK_COLLECTION].find_one(
        {
            "_id": LOCK_ID,
            "going_down_to": {"$lt": needs_version},
            "$expr": {"$gt": ["$expires_at", "$$NOW"]},
        }
    )


async def wait_stopped(
    db: AsyncDatabase[dict[str, Any]], needing: list[Server], lock: MigrationLock
) -> list[Server]:
    """Wait until each of `needing` acknowledged `lock`'s going-down mark (nothing in flight any
    more) or died; return those still using the database after `lock.wait_seconds`."""
    deadline = time.monotonic() + lock.wait_seconds
    waiting = [s.id for s in needing]
    while True:
        live = {s.id: s for s in await live_servers(db)}
        stuck = [live[i] for i in waiting if i in live and live[i].stopped_for != lock.owner]
        if not stuck or time.monotonic() >= deadline or lock.lost:
            return stuck
        waiting = [s.id for s in stuck]
        await asyncio.sleep(0.1)
