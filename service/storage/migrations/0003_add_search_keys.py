"""Backfill the search keys ListVMs filters and sorts on: name_key, label_terms, ip_key."""

from __future__ import annotations

import ipaddress
from typing import Any

from pymongo import UpdateOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

KEYS = ("name_key", "label_terms", "ip_key")
BATCH = 1000

# A frozen copy of service.listing.search_keys: a landed migration must not change behaviour.
# Every statement runs outside the runner's transaction (`session` is unused on purpose): a
# backfill of millions of VMs exceeds a transaction's time and size limits, and it is idempotent
# and resumable, so a re-run finishes what an interrupted run started.


def _ip_key(text: str | None) -> str | None:
    if text is None:
        return None
    ip = ipaddress.ip_address(text)
    return f"{ip.version}{int(ip):0{ip.max_prefixlen // 4}x}"


def _keys(doc: dict[str, Any]) -> dict[str, Any]:
    labels: dict[str, str] = doc.get("labels") or {}
    return {
        "name_key": doc["name"].lower(),
        "label_terms": sorted([*labels, *(f"{k}={v}" for k, v in labels.items())]),
        "ip_key": _ip_key(doc.get("ip_address")),
    }


async def up(db: AsyncDatabase[dict[str, Any]], session: AsyncClientSession | None) -> None:
    """Set the search keys on every VM that lacks one (a VM changed meanwhile keeps its own)."""
    missing = {"$or": [{key: {"$exists": False}} for key in KEYS]}
    fields = {"name": 1, "labels": 1, "ip_address": 1, "revision": 1}
    batch: list[UpdateOne] = []
    async for doc in db.vms.find(missing, fields):
        match = {"_id": doc["_id"], "revision": doc.get("revision")}
        batch.append(UpdateOne(match, {"$set": _keys(doc)}))
        if len(batch) >= BATCH:
            await db.vms.bulk_write(batch, ordered=False)
            batch = []
    if batch:
        await db.vms.bulk_write(batch, ordered=False)


async def down(db: AsyncDatabase[dict[str, Any]], session: AsyncClientSession | None) -> None:
    """Remove the search keys from every VM."""
    unset = dict.fromkeys(KEYS, "")
    await db.vms.update_many({}, {"$unset": unset})
