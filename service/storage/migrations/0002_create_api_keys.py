"""Create the api_keys collection with unique indexes on name and token_hash."""

from __future__ import annotations

from typing import Any

from pymongo import IndexModel
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

VALIDATOR = {
    "$jsonSchema": {
        "bsonType": "object",
        "required": ["name", "scope", "token_hash", "created_at"],
        "properties": {
            "name": {"bsonType": "string", "minLength": 1, "maxLength": 63},
            "scope": {"enum": ["read", "write", "admin"]},
            "token_hash": {"bsonType": "string", "minLength": 64, "maxLength": 64},
            "created_at": {"bsonType": "date"},
            "last_used_at": {"bsonType": ["date", "null"]},
        },
    }
}


INDEXES = [
    IndexModel([("name", 1)], name="name_unique", unique=True),
    IndexModel([("token_hash", 1)], name="token_hash_unique", unique=True),
]


async def up(db: AsyncDatabase[dict[str, Any]], session: AsyncClientSession | None) -> None:
    """Create `api_keys`, its validator and its unique name and token_hash indexes."""
    if await db.list_collection_names(filter={"name": "api_keys"}):
        # collMod and createIndexes on an existing collection are refused inside a transaction;
        # both are idempotent, so on a re-run they go outside it.
        await db.command("collMod", "api_keys", validator=VALIDATOR)
        await db.api_keys.create_indexes(INDEXES)
        return
    await db.create_collection("api_keys", validator=VALIDATOR, session=session, check_exists=False)
    await db.api_keys.create_indexes(INDEXES, session=session)


async def down(db: AsyncDatabase[dict[str, Any]], session: AsyncClientSession | None) -> None:
    """Drop `api_keys` (every key stops working)."""
    # MongoDB refuses `drop` inside a transaction; dropping is idempotent, so it runs outside.
    await db.drop_collection("api_keys")
