"""Create vm_events (each VM's change history) with its unique (vm_id, revision) index."""

from __future__ import annotations

from typing import Any

from pymongo import IndexModel
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

INDEXES = [IndexModel([("vm_id", 1), ("revision", -1)], name="vm_id_revision", unique=True)]


async def up(db: AsyncDatabase[dict[str, Any]], session: AsyncClientSession | None) -> None:
    """Create `vm_events`: one event per VM revision, read newest first."""
    if await db.list_collection_names(filter={"name": "vm_events"}):
        # createIndexes on an existing collection is refused inside a transaction (and idempotent)
        await db.vm_events.create_indexes(INDEXES)
        return
    await db.create_collection("vm_events", session=session, check_exists=False)
    await db.vm_events.create_indexes(INDEXES, session=session)


async def down(db: AsyncDatabase[dict[str, Any]], session: AsyncClientSession | None) -> None:
    """Drop `vm_events` (the whole history)."""
    # MongoDB refuses `drop` inside a transaction; dropping is idempotent, so it runs outside.
    await db.drop_collection("vm_events")
