"""Create the vms collection with its $jsonSchema validator and its indexes."""

from __future__ import annotations

from typing import Any

from pymongo import IndexModel
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

VALIDATOR = {
    "$jsonSchema": {
        "bsonType": "object",
        "required": [
            "name", "status", "os", "cpu_cores", "memory_mib", "storage_gib",
            "labels", "description", "revision", "created_at", "updated_at",
        ],
        "properties": {
            "name": {"bsonType": "string", "minLength": 1, "maxLength": 63},
            "status": {"enum": ["provisioning", "running", "stopped", "suspended", "error"]},
            "os": {"bsonType": "string", "minLength": 1, "maxLength": 64},
            "cpu_cores": {"bsonType": ["int", "long"], "minimum": 1, "maximum": 1024},
            "memory_mib": {"bsonType": ["int", "long"], "minimum": 128, "maximum": 33554432},
            "storage_gib": {"bsonType": ["int", "long"], "minimum": 1, "maximum": 1048576},
            "ip_address": {"bsonType": ["string", "null"]},
            "labels": {"bsonType": "object"},
            "description": {"bsonType": "string", "maxLength": 1024},
            "revision": {"bsonType": ["int", "long"], "minimum": 1},
            "created_at": {"bsonType": "date"},
            "updated_at": {"bsonType": "date"},
        },
    }
}  # fmt: skip

NAME_COLLATION = {"locale": "en", "strength": 2}
INDEXES = [
    IndexModel([("name", 1)], name="name_unique_ci", unique=True, collation=NAME_COLLATION),
    IndexModel([("created_at", -1), ("_id", -1)], name="created_at_id"),
]


async def up(db: AsyncDatabase[dict[str, Any]], session: AsyncClientSession | None) -> None:
    """Create `vms`, its validator, the case-insensitive unique name index and the list index."""
    if await db.list_collection_names(filter={"name": "vms"}):
        # MongoDB refuses collMod, and createIndexes on an existing collection, inside a
        # transaction; both are idempotent, so on a re-run they go outside it.
        await db.command("collMod", "vms", validator=VALIDATOR)
        await db.vms.create_indexes(INDEXES)
        return
    # A collection created in this transaction may get its indexes in the same transaction.
    await db.create_collection("vms", validator=VALIDATOR, session=session, check_exists=False)
    await db.vms.create_indexes(INDEXES, session=session)


async def down(db: AsyncDatabase[dict[str, Any]], session: AsyncClientSession | None) -> None:
    """Drop `vms` (with its data and indexes)."""
    # MongoDB refuses `drop` inside a transaction; dropping is idempotent, so it runs outside.
    await db.drop_collection("vms")
