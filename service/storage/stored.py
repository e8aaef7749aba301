"""What storage keeps in MongoDB: collection names and the one definition of a stored VM."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import bson
import msgspec
from bson.raw_bson import RawBSONDocument
from msgspec import UNSET, UnsetType

from service.domain.schemas import VM, VM_TIMES, rfc3339, vm_from_fields

VMS_COLLECTION = "vms"
VM_EVENTS_COLLECTION = "vm_events"
IDEMPOTENCY_COLLECTION = "idempotency_keys"
PROJECTS_COLLECTION = "projects"
API_KEYS_COLLECTION = "api_keys"
PROJECT_USAGE_COLLECTION = "project_usage"


def usage_shard_id(project: str, shard: int) -> str:
    """The `_id` of one of a project's usage shards (service.storage.usage)."""
    return f"{project}/{shard}"


class StoredVM(msgspec.Struct, kw_only=True):
    """A document of `vms` (besides its `_id`): the VM's fields plus the search keys ListVMs
    filters and sorts on, its creation record, and its newest events (`recent_events`, see
    service.storage.recent). Migrations stay frozen copies; this is the shape the code writes."""

    name: str
    project: str
    status: str
    os: str
    cpu_cores: int
    memory_mib: int
    storage_gib: int
    ip_address: str | None
    labels: dict[str, str]
    description: str
    revision: int
    created_at: datetime
    updated_at: datetime
    name_key: str
    label_terms: list[str]
    ip_key: str | None
    ip_nets: list[str]
    created_by: str
    created_request_id: str
    deleted_at: datetime | UnsetType = UNSET
    purge_at: datetime | UnsetType = UNSET
    recent_events: list[dict[str, Any]] | UnsetType = UNSET


SEARCH_KEYS = ("name_key", "label_terms", "ip_key", "ip_nets")
"""Stored fields derived from others (service.domain.listing.search_keys); never returned."""

CREATION_FIELDS = ("created_by", "created_request_id")
"""The creation record (service.domain.events.creation_record) its `created` event derives
from: set by a create, never changed; VMs created before it existed (migration 0007) lack it,
their `created` event is in `vm_events`. Never returned as VM fields."""

RECENT_EVENTS = "recent_events"
"""The VM's newest events, not yet in `vm_events` (service.storage.recent): never returned."""

VM_FIELDS = tuple(
    f
    for f in StoredVM.__struct_fields__
    if f not in SEARCH_KEYS and f not in CREATION_FIELDS and f != RECENT_EVENTS
)
"""The stored fields the API's VM returns (with `_id` as its `id`)."""


def _text_of(field: str) -> dict[str, Any]:
    """`field` (a date) as the text rfc3339 writes, made by MongoDB: none of a page's 100
    times then costs Python ~1 us to write (~15% of a ListVMs page's CPU). Absent stays absent
    (deleted_at and purge_at on a live VM)."""
    text = {"$dateToString": {"date": f"${field}", "format": "%Y-%m-%dT%H:%M:%S.%LZ"}}
    return {"$cond": [{"$ifNull": [f"${field}", False]}, text, "$$REMOVE"]}


VM_PROJECTION = RawBSONDocument(
    bson.encode({f: _text_of(f) if f in VM_TIMES else 1 for f in VM_FIELDS})
)
"""Reads fetch only what becomes the API's VM, its times already written as text (encoded
once: as a dict, encoding it took ~6 us per read)."""

WITH_CREATION: dict[str, Any] = dict.fromkeys((*VM_FIELDS, *CREATION_FIELDS), 1)
"""The VM and its creation record, times as dates: what deriving its `created` event reads."""

DELETION_FIELDS = ("deleted_at", "purge_at")
"""Only on a deleted VM (a live one lacks both); a TTL index on `purge_at` purges it then."""


def unexpired(now: datetime) -> dict[str, Any]:
    """The condition of a VM not purged by its retention at `now`: live, or deleted with its
    `purge_at` still ahead. MongoDB's TTL monitor removes the others only every 60 s; until it
    does, every read and write that can see deleted VMs adds this, so they are gone at once."""
    return {"purge_at": {"$not": {"$lte": now}}}


def expired(document: dict[str, Any], now: datetime) -> bool:
    """Whether a `vms` document read with its `purge_at` is past it at `now` (see unexpired);
    read with VM_PROJECTION, `purge_at` is rfc3339 text, which sorts as the time it writes."""
    purge_at = document.get("purge_at")
    if isinstance(purge_at, str):
        return purge_at <= rfc3339(now)
    return purge_at is not None and bool(purge_at <= now)


CHANGEABLE_FIELDS = frozenset(VM_FIELDS) - {"revision", "created_at", "project", *DELETION_FIELDS}
"""What an update may set (the revision moves by the compare-and-set alone; deletion fields
are set and unset by a delete and a restore only)."""


def stored_vm(fields: dict[str, Any]) -> dict[str, Any]:
    """A complete `vms` document (without `_id`) from the VM's fields and their search keys;
    a missing or mistyped field is a bug here, before it can reach the $jsonSchema validator."""
    document = msgspec.convert(fields, StoredVM)
    return msgspec.to_builtins(document, builtin_types=(datetime,))  # type: ignore[no-any-return]


def to_vm(document: dict[str, Any]) -> VM:
    """Convert a `vms` document read with VM_PROJECTION (or with its times as dates) into the
    API's VM."""
    document["id"] = str(document.pop("_id"))
    if isinstance(document.get("created_at"), str):  # VM_PROJECTION wrote every time as text
        return msgspec.convert(document, VM)
    return vm_from_fields(document)
