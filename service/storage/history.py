"""Reading a VM's history: its recent events in its document, then `vm_events`, with the
events derived rather than stored: the `created` event of a VM never written since its create,
and the `purged` event of a VM that MongoDB's TTL index removed at its `purge_at`."""

from __future__ import annotations

from typing import Any

import msgspec
from bson import ObjectId
from pymongo import DESCENDING
from pymongo.asynchronous.collection import AsyncCollection

from service.domain.events import MAX_REVISION, derived_purged_event
from service.domain.rules import utcnow
from service.domain.schemas import VMEvent, rfc3339
from service.storage.recent import MOVED_WITH, derived_created
from service.storage.shielded import shielded
from service.storage.stored import RECENT_EVENTS, expired

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
    it is in one of `projects` (None: any).

    The VM is read first: its recent events are the newest (service.storage.recent), and every
    event below the lowest of them is in `vm_events` for good, so reading there below it is
    exact even when a write moves the array meanwhile."""
    scope: Raw = {} if projects is None else {"project": {"$in": list(projects)}}
    below = MAX_REVISION + 1 if before_revision is None else before_revision
    state = await vms.find_one({"_id": oid, **scope}, MOVED_WITH)
    if state is not None and (created := derived_created(state)) is not None:
        # Never written since its create: the one event, derived.
        return [to_event({**created, "vm_id": oid})] if below > 1 and limit else []
    recent = [] if state is None else state.get(RECENT_EVENTS, [])
    found = [{**e, "vm_id": oid} for e in reversed(recent) if e["revision"] < below][:limit]
    if len(found) < limit:
        query: Raw = {"vm_id": oid, **scope}
        if recent or before_revision is not None:  # (the oldest recent event is the first)
            query["revision"] = {"$lt": min(below, recent[0]["revision"] if recent else below)}
        found += await _events(events, query, limit - len(found))
    gone = state is None or expired(state, utcnow())
    if before_revision is None and found and gone and (purged := _derived_purge(found[0])):
        found = [purged, *found][:limit]
    return [to_event(doc) for doc in found]


def _derived_purge(last: Raw) -> Raw | None:
    """The `purged` event after `last`, of a VM gone (removed, or past its purge_at and not yet
    removed), when `last` is a soft delete (with `purge_at`): only MongoDB's TTL index removes a
    deleted VM without recording an event."""
    if last.get("action") != "deleted" or "purge_at" not in last:
        return None
    return {**derived_purged_event(last), "vm_id": last["vm_id"]}


async def _events(events: AsyncCollection[Raw], query: Raw, limit: int) -> list[Raw]:
    cursor = events.find(query, limit=limit).sort("revision", DESCENDING)
    return await shielded(cursor.to_list())
