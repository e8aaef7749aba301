"""Recent events: a VM document may hold its newest events (`recent_events`, an array of event
documents, each with its own `_id`), which an update appends in the same write as its change;
the code moves them into `vm_events` at its next transaction (service.storage.recent).

Rolling back moves every VM's recent events into `vm_events` (each keeping its `_id`; an event
moved already by an interrupted run is skipped), then removes the array, so the older code,
which reads `vm_events` alone, reads the whole history.
"""

from __future__ import annotations

import copy
from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

Raw = dict[str, Any]
RECENT = "recent_events"
RECENT_EVENTS = {"bsonType": "array", "items": {"bsonType": "object"}}
BATCH = 500
DUPLICATE_KEY = 11000

# collMod is refused inside a transaction; each step is idempotent, so they run outside the
# runner's (`session` unused).


async def up(db: AsyncDatabase[Raw], session: AsyncClientSession | None) -> None:
    """Accept the optional `recent_events` array in `vms` (nothing to backfill)."""
    validator = await _validator(db)
    validator["$jsonSchema"]["properties"][RECENT] = RECENT_EVENTS
    await db.command("collMod", "vms", validator=validator)


async def down(db: AsyncDatabase[Raw], session: AsyncClientSession | None) -> None:
    """Move every VM's recent events into `vm_events`, remove the arrays, refuse them again."""
    while docs := await db.vms.find(
        {RECENT: {"$exists": True}}, {RECENT: 1, "revision": 1}, limit=BATCH
    ).to_list():
        for doc in docs:
            if events := [{**e, "vm_id": doc["_id"]} for e in doc[RECENT]]:
                await _insert(db, events)
            # Only as read: a VM written meanwhile is read (and moved) again.
            match = {"_id": doc["_id"], "revision": doc["revision"]}
            await db.vms.update_one(match, {"$unset": {RECENT: ""}})
    validator = await _validator(db)
    validator["$jsonSchema"]["properties"].pop(RECENT, None)
    await db.command("collMod", "vms", validator=validator)


async def _insert(db: AsyncDatabase[Raw], events: list[Raw]) -> None:
    """Insert `events`, skipping those `vm_events` holds already (by `_id` or revision)."""
    try:
        await db.vm_events.insert_many(events, ordered=False)
    except BulkWriteError as exc:
        if any(e.get("code") != DUPLICATE_KEY for e in exc.details.get("writeErrors", [])):
            raise


async def _validator(db: AsyncDatabase[Raw]) -> Raw:
    infos = await (await db.list_collections(filter={"name": "vms"})).to_list()
    return copy.deepcopy(infos[0]["options"]["validator"])
