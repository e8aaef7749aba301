"""Create the indexes behind every ListVMs filter and sort order."""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import OperationFailure

# MongoDB refuses createIndexes on an existing collection, and dropIndexes, inside a transaction;
# both are idempotent, so they run outside the runner's (`session` is unused on purpose).
# created_at's plain (created_at, _id) index, `created_at_id`, exists since 0001.
SORT_KEYS = ("created_at", "name_key", "cpu_cores", "memory_mib", "storage_gib")
EQUALITY_FIELDS = ("status", "os", "label_terms")


def _models() -> list[IndexModel]:
    """(sort key, _id) per sort, (equality field, sort key, _id) per pair, and ip_key."""
    models = [
        IndexModel([(key, ASCENDING), ("_id", ASCENDING)], name=f"{key}_id")
        for key in SORT_KEYS
        if key != "created_at"
    ]
    models += [
        IndexModel(
            [(field, ASCENDING), (key, ASCENDING), ("_id", ASCENDING)], name=f"{field}_{key}_id"
        )
        for field in EQUALITY_FIELDS
        for key in SORT_KEYS
    ]
    models.append(IndexModel([("ip_key", ASCENDING), ("_id", ASCENDING)], name="ip_key_id"))
    return models


async def up(db: AsyncDatabase[dict[str, Any]], session: AsyncClientSession | None) -> None:
    """Build every listing index (one pass over the collection; existing ones are kept)."""
    await db.vms.create_indexes(_models())


async def down(db: AsyncDatabase[dict[str, Any]], session: AsyncClientSession | None) -> None:
    """Drop the listing indexes (missing ones are skipped)."""
    for model in _models():
        try:
            await db.vms.drop_index(model.document["name"])
        except OperationFailure as exc:
            if exc.code != 27:  # IndexNotFound
                raise
