"""Projects: every VM belongs to one (`project`), names are unique per project, and each
project's usage is kept in `project_usage` (service.storage.usage). Project `default` (no
limits) gets every existing VM, and its usage is counted from them; the history's events get
`project` too.

Rolling back refuses while any project but `default` exists, or any API key is restricted to
projects (the older code would let it see everything); nothing is changed before that check.
"""

from __future__ import annotations

import contextlib
import copy
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import CollectionInvalid, OperationFailure

Raw = dict[str, Any]
DEFAULT = "default"
RESOURCES = ("vms", "cpu_cores", "memory_mib", "storage_gib")
SHARDS = 64  # service.storage.usage.SHARDS when this was written
# Frozen copies: 0009's live-name index and the name collation; 0004's sort keys.
NAME_COLLATION = {"locale": "en", "strength": 2}
LIVE_NAMES = IndexModel(
    [("name", 1)], name="name_unique_live", unique=True, collation=NAME_COLLATION,
    partialFilterExpression={"deleted_at": None},
)  # fmt: skip
PROJECT_NAMES = IndexModel(
    [("project", 1), ("name", 1)], name="project_name_unique_live", unique=True,
    collation=NAME_COLLATION, partialFilterExpression={"deleted_at": None},
)  # fmt: skip
SORT_KEYS = ("created_at", "name_key", "cpu_cores", "memory_mib", "storage_gib")
# What a restricted key lists by: its projects first, then each order.
PROJECT_ORDERS = [
    IndexModel([("project", ASCENDING), (key, ASCENDING), ("_id", ASCENDING)],
               name=f"project_{key}_id")
    for key in SORT_KEYS
]  # fmt: skip
SHARD_INDEX = IndexModel([("project", ASCENDING), ("shard", ASCENDING)], name="project_shard")

# collMod, createIndexes on existing collections and dropIndexes are refused inside a
# transaction; each step is idempotent, so they run outside the runner's (`session` unused).


async def up(db: AsyncDatabase[Raw], session: AsyncClientSession | None) -> None:
    """Add project `default` with every VM, per-project names, and its counted usage."""
    for name in ("projects", "project_usage"):
        with contextlib.suppress(CollectionInvalid):  # exists: an earlier run
            await db.create_collection(name)
    await db.project_usage.create_indexes([SHARD_INDEX])
    now = datetime.now(UTC)
    await db.projects.update_one(
        {"_id": DEFAULT},
        {"$setOnInsert": {
            "description": "every VM from before projects, and an unrestricted key's VMs",
            "quota": dict.fromkeys(RESOURCES), "revision": 1, "created_at": now, "updated_at": now,
        }},
        upsert=True,
    )  # fmt: skip
    await db.vms.update_many({"project": {"$exists": False}}, {"$set": {"project": DEFAULT}})
    await db.vm_events.update_many({"project": {"$exists": False}}, {"$set": {"project": DEFAULT}})
    await db.command("collMod", "vms", validator=_with_project(await _validator(db)))
    await db.vms.create_indexes([PROJECT_NAMES, *PROJECT_ORDERS])
    await _drop(db, "name_unique_live")
    await _count_default(db)


async def down(db: AsyncDatabase[Raw], session: AsyncClientSession | None) -> None:
    """Refuse while projects besides `default` or restricted keys exist; else undo up."""
    others = await db.projects.distinct("_id", {"_id": {"$ne": DEFAULT}})
    restricted = await db.api_keys.distinct("name", {"projects": {"$exists": True}})
    if others or restricted:
        raise RuntimeError(
            "projects other than 'default' exist ("
            + (", ".join(sorted(others)[:20]) or "none")
            + ") or API keys are restricted to projects ("
            + (", ".join(sorted(restricted)[:20]) or "none")
            + "): the schema before 0010 has one inventory that every key sees. Move their VMs, "
            "delete those projects (DeleteProject) and revoke those keys, then roll back again."
        )
    await db.vms.create_indexes([LIVE_NAMES])
    await _drop(db, "project_name_unique_live")
    for model in PROJECT_ORDERS:
        await _drop(db, str(model.document["name"]))
    await db.command("collMod", "vms", validator=_without_project(await _validator(db)))
    await db.vms.update_many({}, {"$unset": {"project": ""}})
    # A `created` event written since 0010 records the project too (in `changes`).
    await db.vm_events.update_many({}, {"$unset": {"project": "", "changes.project": ""}})
    await db.projects.drop()
    await db.project_usage.drop()


async def _count_default(db: AsyncDatabase[Raw]) -> None:
    """Project `default`'s usage from its live VMs, on shard 0 (the others at 0); no limits."""
    pipeline: list[Raw] = [
        {"$match": {"project": DEFAULT, "deleted_at": None}},
        {"$group": {"_id": None, "vms": {"$sum": 1},
                    **{r: {"$sum": f"${r}"} for r in RESOURCES[1:]}}},
    ]  # fmt: skip
    found = await (await db.vms.aggregate(pipeline)).to_list()
    counted = {r: int(found[0][r]) if found else 0 for r in RESOURCES}
    for shard in range(SHARDS):
        used = counted if shard == 0 else dict.fromkeys(RESOURCES, 0)
        await db.project_usage.replace_one(
            {"_id": f"{DEFAULT}/{shard}"},
            {"project": DEFAULT, "shard": shard, "used": used,
             "allow": dict.fromkeys(RESOURCES), "limit": dict.fromkeys(RESOURCES)},
            upsert=True,
        )  # fmt: skip


async def _validator(db: AsyncDatabase[Raw]) -> Raw:
    infos = await (await db.list_collections(filter={"name": "vms"})).to_list()
    return copy.deepcopy(infos[0]["options"]["validator"])


def _with_project(validator: Raw) -> Raw:
    schema = validator["$jsonSchema"]
    schema["properties"]["project"] = {"bsonType": "string", "minLength": 1, "maxLength": 63}
    if "project" not in schema["required"]:
        schema["required"].append("project")
    return validator


def _without_project(validator: Raw) -> Raw:
    schema = validator["$jsonSchema"]
    schema["properties"].pop("project", None)
    schema["required"] = [f for f in schema["required"] if f != "project"]
    return validator


async def _drop(db: AsyncDatabase[Raw], name: str) -> None:
    try:
        await db.vms.drop_index(name)
    except OperationFailure as exc:
        if exc.code != 27:  # IndexNotFound: dropped by an earlier run
            raise
