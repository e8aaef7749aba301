"""Create idempotency_keys: one claim per (scope, key), expiring 24 hours after it was made."""

from __future__ import annotations

from typing import Any

from pymongo import IndexModel
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

TTL_SECONDS = 24 * 60 * 60
INDEXES = [
    IndexModel([("scope", 1), ("key", 1)], name="scope_key_unique", unique=True),
    IndexModel([("created_at", 1)], name="created_at_ttl", expireAfterSeconds=TTL_SECONDS),
]


async def up(db: AsyncDatabase[dict[str, Any]], session: AsyncClientSession | None) -> None:
    """Create `idempotency_keys` with its unique (scope, key) index and its 24 h TTL index."""
    if await db.list_collection_names(filter={"name": "idempotency_keys"}):
        # createIndexes on an existing collection is refused inside a transaction (and idempotent)
        await db.idempotency_keys.create_indexes(INDEXES)
        return
    await db.create_collection("idempotency_keys", session=session, check_exists=False)
    await db.idempotency_keys.create_indexes(INDEXES, session=session)


async def down(db: AsyncDatabase[dict[str, Any]], session: AsyncClientSession | None) -> None:
    """Drop `idempotency_keys` (every stored response)."""
    # MongoDB refuses `drop` inside a transaction; dropping is idempotent, so it runs outside.
    await db.drop_collection("idempotency_keys")
