"""Create the api_keys collection with unique indexes on name and token_hash."""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import CollectionInvalid

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


async def up(db: AsyncDatabase[dict[str, Any]], session: AsyncClientSession | None) -> None:
    """Create `api_keys`, its validator and its unique name and token_hash indexes."""
    try:
        await db.create_collection("api_keys", validator=VALIDATOR, session=session)
    except CollectionInvalid:
        await db.command("collMod", "api_keys", validator=VALIDATOR, session=session)
    await db.api_keys.create_index([("name", 1)], name="name_unique", unique=True, session=session)
    await db.api_keys.create_index(
        [("token_hash", 1)], name="token_hash_unique", unique=True, session=session
    )


async def down(db: AsyncDatabase[dict[str, Any]], session: AsyncClientSession | None) -> None:
    """Drop `api_keys` (every key stops working)."""
    await db.drop_collection("api_keys", session=session)
