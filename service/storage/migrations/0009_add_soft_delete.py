"""Soft delete: a deleted VM keeps its document with `deleted_at` and `purge_at`; the unique name
index covers live VMs only (a deleted VM's name is free); a TTL index on `purge_at` purges it.

Rolling back refuses while deleted VMs exist (the older code would show them as live, and
dropping them would destroy what can still be restored), naming those whose name another VM
holds; restore or purge them first. Nothing is changed before that check. It then writes the
history's `restored` and `purged` events as the older code's `updated` and `deleted` (which it
can read), keeping the action in `soft_delete_action`, from which up writes it back.
"""

from __future__ import annotations

from typing import Any

from pymongo import IndexModel
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import OperationFailure

# Frozen copies: migration 0007's validator (0001's with the creation record), and 0001's name
# collation.
VALIDATOR_0007 = {
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
            "created_by": {"bsonType": "string"},
            "created_request_id": {"bsonType": "string"},
        },
    }
}  # fmt: skip
VALIDATOR = {
    "$jsonSchema": {
        **VALIDATOR_0007["$jsonSchema"],
        "properties": {
            **VALIDATOR_0007["$jsonSchema"]["properties"],  # type: ignore[dict-item]
            # Only a deleted VM has them (a live one has neither: no backfill).
            "deleted_at": {"bsonType": "date"},
            "purge_at": {"bsonType": "date"},
        },
    }
}
NAME_COLLATION = {"locale": "en", "strength": 2}
ALL_NAMES = IndexModel([("name", 1)], name="name_unique_ci", unique=True, collation=NAME_COLLATION)
# `deleted_at: null` matches a document without the field (MongoDB refuses `$exists: false` in a
# partial filter); only a deleted VM has it, as a date.
LIVE_NAMES = IndexModel(
    [("name", 1)], name="name_unique_live", unique=True, collation=NAME_COLLATION,
    partialFilterExpression={"deleted_at": None},
)  # fmt: skip
# expireAfterSeconds=0: removed once purge_at has passed (MongoDB's TTL monitor, every 60 s by
# default); a live VM has no purge_at and never expires. It also counts the deleted VMs.
PURGE = IndexModel([("purge_at", 1)], name="purge_at_ttl", expireAfterSeconds=0)
MAX_NAMED = 20
NEW_ACTIONS = {"restored": "updated", "purged": "deleted"}  # -> the older code's nearest
KEPT_ACTION = "soft_delete_action"

# collMod, createIndexes on an existing collection and dropIndexes are refused inside a
# transaction; each step is idempotent, so they run outside the runner's (`session` is unused on
# purpose: even the reads deciding whether down may run stay outside, as a read in the
# transaction would hold a lock the index commands then wait for). The new unique index is built
# before the old one is dropped, so names stay unique throughout (MongoDB accepts both).


async def up(db: AsyncDatabase[dict[str, Any]], session: AsyncClientSession | None) -> None:
    """Accept deleted_at/purge_at, make names unique among live VMs only, add the TTL index."""
    await db.command("collMod", "vms", validator=VALIDATOR)
    await db.vms.create_indexes([LIVE_NAMES, PURGE])
    await _drop(db, "name_unique_ci")
    # Events a rollback renamed get their action back.
    await db.vm_events.update_many(
        {KEPT_ACTION: {"$exists": True}},
        [{"$set": {"action": f"${KEPT_ACTION}"}}, {"$unset": KEPT_ACTION}],
    )


async def down(db: AsyncDatabase[dict[str, Any]], session: AsyncClientSession | None) -> None:
    """Refuse while deleted VMs exist; else names unique among all VMs again, no TTL index."""
    deleted = await db.vms.count_documents({"deleted_at": {"$type": "date"}})
    if deleted:
        raise RuntimeError(await _refusal(db, deleted))
    await db.vms.create_indexes([ALL_NAMES])
    await _drop(db, "name_unique_live")
    await _drop(db, "purge_at_ttl")
    await db.command("collMod", "vms", validator=VALIDATOR_0007)
    # The older code reads only the actions it knows (others would fail its history reads).
    for action, older in NEW_ACTIONS.items():
        await db.vm_events.update_many(
            {"action": action}, {"$set": {"action": older, KEPT_ACTION: action}}
        )


async def _refusal(db: AsyncDatabase[dict[str, Any]], deleted: int) -> str:
    """Why down stops: how many deleted VMs, and which share their name with another VM."""
    pipeline: list[dict[str, Any]] = [
        {"$group": {
            "_id": {"$toLower": "$name"},
            "vms": {"$push": {"id": "$_id", "name": "$name", "deleted": "$deleted_at"}},
            "deleted": {"$sum": {"$cond": [{"$eq": [{"$type": "$deleted_at"}, "date"]}, 1, 0]}},
            "n": {"$sum": 1},
        }},
        {"$match": {"n": {"$gt": 1}, "deleted": {"$gt": 0}}},
        {"$sort": {"_id": 1}},
        {"$limit": MAX_NAMED},
    ]  # fmt: skip
    clashes = await (await db.vms.aggregate(pipeline)).to_list()
    message = (
        f"{deleted} soft-deleted VM(s) exist: the schema before 0009 has no deleted VMs (the "
        "older code would show them as live) and rolling back must not destroy what can still "
        "be restored. Restore them (POST /api/v1/vms/{id}/restore) or purge them "
        "(DELETE /api/v1/vms/{id}?purge=true), then run the rollback again."
    )
    if clashes:
        lines = [
            f"name {group['vms'][0]['name']!r}: "
            + ", ".join(
                f"{vm['id']} ({'deleted' if vm.get('deleted') else 'live'})" for vm in group["vms"]
            )
            for group in clashes
        ]
        message += (
            " Names held by more than one VM (unique again after the rollback, so at most one "
            "of each may stay):\n  " + "\n  ".join(lines)
        )
    return message


async def _drop(db: AsyncDatabase[dict[str, Any]], name: str) -> None:
    try:
        await db.vms.drop_index(name)
    except OperationFailure as exc:
        if exc.code != 27:  # IndexNotFound: dropped by an earlier run
            raise
