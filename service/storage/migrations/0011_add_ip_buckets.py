"""Store each address's enclosing networks (`ip_nets`: its /8, /16 and /24, or its IPv6 /32 to
/64 in steps of 8, each as a prefix of `ip_key`) and index them with the default order, so an
ip_in of such a network is one index lookup newest first instead of a sort of every match.

Every statement runs outside the runner's transaction (`session` is unused on purpose): the
backfill of millions of VMs exceeds a transaction's limits, MongoDB refuses createIndexes on an
existing collection and dropIndexes inside one; each step is idempotent, so a re-run finishes
what an interrupted run started.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from pymongo import ASCENDING, IndexModel, UpdateOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import OperationFailure

Raw = dict[str, Any]
BATCH = 1000
# Frozen copies of service.domain.listing.keys (ip_key, IP_NET_LEVELS, ip_nets) when this was
# written: a landed migration must not change behaviour.
LEVELS = {4: (8, 16, 24), 6: (32, 40, 48, 56, 64)}
INDEX = IndexModel(
    [("ip_nets", ASCENDING), ("created_at", ASCENDING), ("_id", ASCENDING)],
    name="ip_nets_created_at_id",
)


def _ip_nets(text: str | None) -> list[str]:
    if text is None:
        return []
    ip = ipaddress.ip_address(text)
    key = f"{ip.version}{int(ip):0{ip.max_prefixlen // 4}x}"
    return [key[: 1 + bits // 4] for bits in LEVELS[ip.version]]


async def up(db: AsyncDatabase[Raw], session: AsyncClientSession | None) -> None:
    """Set `ip_nets` on every VM that lacks it, then build its index."""
    batch: list[UpdateOne] = []
    async for doc in db.vms.find({"ip_nets": {"$exists": False}}, {"ip_address": 1}):
        address = doc.get("ip_address")
        # Only while the address is still the one read: a VM changed meanwhile keeps its own.
        match = {"_id": doc["_id"], "ip_address": address, "ip_nets": {"$exists": False}}
        batch.append(UpdateOne(match, {"$set": {"ip_nets": _ip_nets(address)}}))
        if len(batch) >= BATCH:
            await db.vms.bulk_write(batch, ordered=False)
            batch = []
    if batch:
        await db.vms.bulk_write(batch, ordered=False)
    await db.vms.create_indexes([INDEX])


async def down(db: AsyncDatabase[Raw], session: AsyncClientSession | None) -> None:
    """Drop the index and remove `ip_nets` from every VM."""
    try:
        await db.vms.drop_index(str(INDEX.document["name"]))
    except OperationFailure as exc:
        if exc.code != 27:  # IndexNotFound: dropped by an earlier run
            raise
    await db.vms.update_many({"ip_nets": {"$exists": True}}, {"$unset": {"ip_nets": ""}})
