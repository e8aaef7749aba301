"""A VM's newest events in its own document: `recent_events`, at most RECENT_MAX, oldest first.

An update that needs no transaction (no Idempotency-Key, no atomic batch, no usage change) and
finds room appends its event there in the same single-document compare-and-set as its change:
one majority write instead of a transaction's three round trips (issue 24). Every write made in
a transaction (an update with one of those, or with the array full; a delete; a purge) moves the
array's events into `vm_events` with its own event, so `vm_events` stays the history's home and a
soft-deleted VM, which MongoDB's TTL index removes later without our code, holds none. An event
keeps its `_id` when it moves. The `created` event is derived from a VM still at revision 1
(service.domain.events.derived_created_event); its first write records it with its own event,
in the array or in `vm_events`, wherever that write records its own.
"""

from __future__ import annotations

from typing import Any

from bson import ObjectId

from service.domain.events import (
    RECORDED_FIELDS,
    WriteContext,
    created_event,
    derived_created_event,
)
from service.domain.listing import search_keys
from service.storage.stored import RECENT_EVENTS, WITH_CREATION

Raw = dict[str, Any]
RECENT_MAX = 16
"""Events a VM holds at most: 16 of the largest (a rename with 64 labels of long values, ~140
KB) stay far under MongoDB's 16 MB per document; a full array sends the next update through a
transaction, which empties it."""
MOVED_WITH: Raw = {**WITH_CREATION, RECENT_EVENTS: 1}
"""What a transaction's write reads of the state it replaces, and a history read of the VM:
its recent events and what its derived `created` event needs."""


def room_for(count: int) -> Raw:
    """The condition that a VM's array has room for `count` more events."""
    return {f"{RECENT_EVENTS}.{RECENT_MAX - count}": {"$exists": False}}


def append(changes: Raw, event: Raw, first: bool) -> Raw | list[Raw]:
    """The update of a VM that sets `changes` (with their search keys), moves its revision on
    and appends `event` (given its `_id` here); from revision 1 (`first`), preceded by the VM's
    `created` event, which MongoDB builds from the VM it replaces (see _created)."""
    event = {"_id": ObjectId(), **event}
    fields = {**changes, **search_keys(changes)}
    if not first:
        return {"$set": fields, "$inc": {"revision": 1}, "$push": {RECENT_EVENTS: event}}
    # A pipeline, so the `created` event reads the stored VM; every value sent is a $literal.
    created = {"$cond": [{"$eq": [{"$type": "$created_by"}, "string"]}, [_created()], []]}
    pushed = [{"$ifNull": [f"${RECENT_EVENTS}", []]}, created, [{"$literal": event}]]
    stage = {k: {"$literal": v} for k, v in fields.items()}
    stage.update(revision={"$add": ["$revision", 1]}, **{RECENT_EVENTS: {"$concatArrays": pushed}})
    return [{"$set": stage}]


def _created() -> Raw:
    """The `created` event of the stored VM as a MongoDB expression: created_event itself, given
    the fields' paths for their values (a VM without its creation record, stored before
    migration 0007, has its `created` event in `vm_events` already)."""
    fields = {f: f"${f}" for f in (*RECORDED_FIELDS, "project", "created_at")}
    built = created_event(fields, WriteContext("$created_by", "$created_request_id"))
    # The VM's id is its `created` event's id: the same whether derived or written.
    return {**built, "_id": "$_id"}


def moved(before: Raw, oid: ObjectId) -> list[Raw]:
    """The events `before` (a VM as a transaction's write replaced it) holds outside `vm_events`,
    to record there before that write's own: its recent events, or its derived `created`
    event; each given the VM's id."""
    if (created := derived_created(before)) is not None:
        return [{**created, "vm_id": oid}]
    return [{**e, "vm_id": oid} for e in before.get(RECENT_EVENTS, ())]


def derived_created(state: Raw) -> Raw | None:
    """The derived `created` event of a stored VM at revision 1 with its creation record, with
    its id (the VM's); None once its first write recorded it."""
    created = derived_created_event(state)
    return None if created is None else {**created, "_id": state["_id"]}
