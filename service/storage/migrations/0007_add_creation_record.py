"""Let a VM record its own creation (created_by, created_request_id): its `created` event is then
derived from the VM until the VM's first later write adds it to vm_events.

VMs created before keep their `created` event in vm_events and get no record. Rolling back adds
every derived event to vm_events (the older code reads the history from there alone), removes the
records and restores migration 0001's validator.
"""

from __future__ import annotations

from typing import Any

from pymongo import InsertOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

BATCH = 1000
RECORD = ("created_by", "created_request_id")
# Frozen copies: migration 0001's validator, and the fields a `created` event records.
RECORDED_FIELDS = (
    "name", "status", "os", "cpu_cores", "memory_mib", "storage_gib", "ip_address", "labels",
    "description",
)  # fmt: skip
VALIDATOR_0001 = {
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
VALIDATOR = {
    "$jsonSchema": {
        **VALIDATOR_0001["$jsonSchema"],
        "properties": {
            **VALIDATOR_0001["$jsonSchema"]["properties"],  # type: ignore[dict-item]
            # Not required: VMs created before this version have no record.
            "created_by": {"bsonType": "string"},
            "created_request_id": {"bsonType": "string"},
        },
    }
}

# Every statement runs outside the runner's transaction (`session` is unused on purpose): MongoDB
# refuses collMod inside one, and the rollback's backfill may exceed a transaction's limits; each
# step is idempotent, so a re-run finishes what an interrupted run started.


async def up(db: AsyncDatabase[dict[str, Any]], session: AsyncClientSession | None) -> None:
    """Accept the creation record in the validator of `vms`."""
    await db.command("collMod", "vms", validator=VALIDATOR)


def _created_event(vm: dict[str, Any]) -> dict[str, Any]:
    return {
        "_id": vm["_id"],
        "vm_id": vm["_id"],
        "revision": 1,
        "action": "created",
        "changes": {f: {"before": None, "after": vm.get(f)} for f in RECORDED_FIELDS},
        "timestamp": vm["created_at"],
        "actor": vm["created_by"],
        "request_id": vm["created_request_id"],
    }


async def down(db: AsyncDatabase[dict[str, Any]], session: AsyncClientSession | None) -> None:
    """Write every derived `created` event to vm_events, drop the records, restore the validator."""
    pending = {"revision": 1, "created_by": {"$exists": True}}
    batch: list[InsertOne[dict[str, Any]]] = []
    async for vm in db.vms.find(pending):
        batch.append(InsertOne(_created_event(vm)))
        if len(batch) >= BATCH:
            await _insert(db, batch)
            batch = []
    if batch:
        await _insert(db, batch)
    await db.vms.update_many(
        {"created_by": {"$exists": True}}, {"$unset": dict.fromkeys(RECORD, "")}
    )
    await db.command("collMod", "vms", validator=VALIDATOR_0001)


async def _insert(
    db: AsyncDatabase[dict[str, Any]], batch: list[InsertOne[dict[str, Any]]]
) -> None:
    try:
        await db.vm_events.bulk_write(batch, ordered=False)
    except BulkWriteError as exc:  # written by an interrupted earlier run: keep those
        if any(e.get("code") != 11000 for e in exc.details.get("writeErrors", [])):
            raise
