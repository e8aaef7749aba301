"""Reading a VM's history from `vm_events`, with the events derived rather than stored: the
`created` event of a VM never written since its create, and the `purged` event of a VM that
MongoDB's TTL index removed at its `purge_at`."""

from __future__ import annotations

from typing import Any

import msgspec
from bson import ObjectId
from pymongo import DESCENDING
from pymongo.asynchronous.collection import AsyncCollection

from service.domain.events import derived_created_event, derived_purged_event
from service.domain.rules import utcnow
from service.domain.schemas import VMEvent, rfc3339
from service.storage.shielded import shielded
from service.storage.stored import WITH_CREATION, unexpired

Raw = dict[str, Any]


def to_event(doc: Raw) -> VMEvent:
    """Convert a raw `vm_events` document into the API's VMEvent."""
    doc["id"] = str(doc.pop("_id"))
    doc["vm_id"] = str(doc["vm_id"])
    doc["timestamp"] = rfc3339(doc["timestamp"])
    return msgspec.convert(doc, VMEvent)


async def read_events(
    vms: AsyncCollection[Raw],
    events: AsyncCollection[Raw],
    oid: ObjectId,
    limit: int,
    before_revision: int | None = None,
    projects: tuple[str, ...] | None = None,
) -> list[VMEvent]:
    """A VM's events, highest revision first, below `before_revision` when given; none unless
    it is in one of `projects` (None: any)."""
    query: Raw = {"vm_id": oid}
    scope: Raw = {} if projects is None else {"project": {"$in": list(projects)}}
    query.update(scope)
    if before_revision is None:
        found = await _events(events, query, limit)
        if found and (purged := await _derived_purge(vms, oid, found[0])) is not None:
            found = [purged, *found][:limit]
    else:
        query["revision"] = {"$lt": before_revision}
        found = await _events(events, query, limit)
    wants_first = before_revision is None or before_revision > 1
    if len(found) == limit or not wants_first or (found and found[-1]["revision"] == 1):
        return [to_event(doc) for doc in found]
    pending = {"_id": oid, "revision": 1, "created_by": {"$exists": True}, **scope}
    state = await vms.find_one(pending, WITH_CREATION)
    if state is not None and (created := derived_created_event(state)) is not None:
        return [*map(to_event, found), to_event({**created, "_id": oid, "vm_id": oid})]
    # A write between the two reads may have recorded the `created` event since: read again.
    return [to_event(doc) for doc in await _events(events, query, limit)]


async def _derived_purge(vms: AsyncCollection[Raw], oid: ObjectId, last: Raw) -> Raw | None:
    """The `purged` event after `last` when it is a soft delete (with `purge_at`) and the VM is
    gone (removed, or past its purge_at and not yet removed): only MongoDB's TTL index removes a
    deleted VM without recording an event."""
    if last.get("action") != "deleted" or "purge_at" not in last:
        return None
    if await vms.find_one({"_id": oid, **unexpired(utcnow())}, {"_id": 1}) is not None:
        return None
    return {**derived_purged_event(last), "vm_id": oid}


async def _events(events: AsyncCollection[Raw], query: Raw, limit: int) -> list[Raw]:
    cursor = events.find(query, limit=limit).sort("revision", DESCENDING)
    return await shielded(cursor.to_list())
