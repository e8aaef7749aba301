"""msgspec Structs for every request and response body."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType

NAME_PATTERN = r"^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$"
PROJECT_NAME_PATTERN = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"
LABEL_KEY_PATTERN = r"^[a-z0-9]([a-z0-9._/-]*[a-z0-9])?$"
# The limits of a VM's fields, named once: listing and the OpenAPI refinements reuse them, and
# tests/integration/test_validator_drift.py compares them with the validator of migration 0001.
NAME_MAX_LENGTH = 63
OS_MAX_LENGTH = 64
LABEL_KEY_MAX_LENGTH = 63
LABEL_VALUE_MAX_LENGTH = 63
MAX_LABELS = 64
DESCRIPTION_MAX_LENGTH = 1024


Timestamp = Annotated[
    str,
    Meta(
        description="RFC 3339, UTC, milliseconds",
        examples=["2026-12-06T10:50:25.123Z"],
        extra_json_schema={"format": "date-time"},
    ),
]
"""A time in an answer: the text rfc3339() writes."""


def rfc3339(moment: datetime) -> str:
    """The one text of a time in every answer (JSON, CSV, watch events): RFC 3339 in UTC with
    milliseconds and `Z`, e.g. 2026-12-06T10:50:25.123Z (MongoDB keeps milliseconds, so this
    loses nothing stored). A naive datetime is taken as UTC (what MongoDB returns)."""
    if moment.tzinfo is not None and moment.utcoffset():
        moment = moment.astimezone(UTC)
    return "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ" % (  # noqa: UP031 - the fastest of the forms
        moment.year, moment.month, moment.day,
        moment.hour, moment.minute, moment.second, moment.microsecond // 1000,
    )  # fmt: skip


class VMStatus(StrEnum):
    """Lifecycle status of a VM."""

    PROVISIONING = "provisioning"
    RUNNING = "running"
    STOPPED = "stopped"
    SUSPENDED = "suspended"
    ERROR = "error"


class InitialStatus(StrEnum):
    """Statuses a VM may be registered with."""

    PROVISIONING = "provisioning"
    RUNNING = "running"
    STOPPED = "stopped"


Name = Annotated[
    str,
    Meta(
        min_length=1, max_length=NAME_MAX_LENGTH, pattern=NAME_PATTERN,
        description="unique ignoring case", examples=["web-01"],
    ),
]  # fmt: skip
ProjectName = Annotated[
    str,
    Meta(
        min_length=1, max_length=63, pattern=PROJECT_NAME_PATTERN,
        description="a project's name: a DNS label (lowercase letters, digits, `-`)",
        examples=["team-a"],
    ),
]  # fmt: skip
OsName = Annotated[str, Meta(min_length=1, max_length=OS_MAX_LENGTH, examples=["ubuntu-24.04"])]
CpuCores = Annotated[int, Meta(ge=1, le=1024)]
MemoryMiB = Annotated[int, Meta(ge=128, le=33554432)]
StorageGiB = Annotated[int, Meta(ge=1, le=1048576)]
IpAddress = Annotated[
    str,
    Meta(
        min_length=2, max_length=45, description="IPv4 or IPv6, returned in canonical form",
        examples=["10.0.0.5"],
    ),
]  # fmt: skip
LabelKey = Annotated[
    str, Meta(min_length=1, max_length=LABEL_KEY_MAX_LENGTH, pattern=LABEL_KEY_PATTERN)
]
LabelValue = Annotated[str, Meta(max_length=LABEL_VALUE_MAX_LENGTH)]
Labels = Annotated[dict[LabelKey, LabelValue], Meta(max_length=MAX_LABELS)]
Description = Annotated[str, Meta(max_length=DESCRIPTION_MAX_LENGTH)]


class VMCreate(Struct, forbid_unknown_fields=True, kw_only=True):
    """Body of CreateVM."""

    name: Name
    project: (
        Annotated[
            ProjectName, Meta(description="default: the API key's first project, or `default`")
        ]
        | UnsetType
    ) = UNSET
    status: InitialStatus = InitialStatus.PROVISIONING
    os: OsName
    cpu_cores: CpuCores
    memory_mib: MemoryMiB
    storage_gib: StorageGiB
    ip_address: IpAddress | None = None
    labels: Labels = msgspec.field(default_factory=dict)
    description: Description = ""


class VMReplace(Struct, forbid_unknown_fields=True, kw_only=True):
    """Body of ReplaceVM: every writable field; omitted optional ones return to their defaults."""

    name: Name
    project: (
        Annotated[ProjectName, Meta(description="never changes: only the VM's own project")]
        | UnsetType
    ) = UNSET
    status: VMStatus | UnsetType = UNSET
    os: OsName
    cpu_cores: CpuCores
    memory_mib: MemoryMiB
    storage_gib: StorageGiB
    ip_address: IpAddress | None = None
    labels: Labels = msgspec.field(default_factory=dict)
    description: Description = ""


WRITABLE_FIELDS: tuple[str, ...] = VMReplace.__struct_fields__
"""The fields a client writes (the same in VMCreate, VMReplace and VMPatch)."""


class VMPatch(Struct, forbid_unknown_fields=True, kw_only=True):
    """Body of UpdateVM, a JSON Merge Patch: null clears `ip_address` or removes a label."""

    name: Name | UnsetType = UNSET
    project: (
        Annotated[ProjectName, Meta(description="never changes: only the VM's own project")]
        | UnsetType
    ) = UNSET
    status: VMStatus | UnsetType = UNSET
    os: OsName | UnsetType = UNSET
    cpu_cores: CpuCores | UnsetType = UNSET
    memory_mib: MemoryMiB | UnsetType = UNSET
    storage_gib: StorageGiB | UnsetType = UNSET
    ip_address: IpAddress | UnsetType | None = UNSET
    labels: dict[LabelKey, LabelValue | None] | UnsetType = UNSET
    description: Description | UnsetType = UNSET


class VM(Struct, kw_only=True):
    """A virtual machine as the API returns it."""

    id: Annotated[str, Meta(description="24 hex characters", examples=["665f1c2e8b3e4a0012345678"])]
    name: str
    project: Annotated[str, Meta(description="the project it belongs to; never changes")]
    status: VMStatus
    os: str
    cpu_cores: int
    memory_mib: int
    storage_gib: int
    ip_address: str | None
    labels: dict[str, str]
    description: str
    revision: int
    created_at: Timestamp
    updated_at: Timestamp
    deleted_at: (
        Annotated[Timestamp, Meta(description="when it was deleted; only on a deleted VM")]
        | UnsetType
    ) = UNSET
    purge_at: (
        Annotated[
            Timestamp,
            Meta(description="when it will be purged (no longer restorable); only on a deleted VM"),
        ]
        | UnsetType
    ) = UNSET


VM_TIMES = ("created_at", "updated_at", "deleted_at", "purge_at")
"""The VM's times (the last two on a deleted VM only)."""


def vm_from_fields(fields: dict[str, Any]) -> VM:
    """The API's VM from its fields as stored (with `id`; times as datetimes are written here
    with rfc3339, `fields` being changed; times already written are kept)."""
    for name in VM_TIMES:
        if isinstance(moment := fields.get(name), datetime):
            fields[name] = rfc3339(moment)
    return msgspec.convert(fields, VM)


TOTAL_EXACT_MAX = 1000
"""ListVMs' include_total counts the matches of a filtered list exactly up to this many, past it
it answers this many as a lower bound: counting 1,000 of 1,000,000 VMs takes ~2 ms, all 136,000
matches of two filters ~0.7 s (the whole collection, live or not, is counted exactly in O(1))."""


class VMPage(Struct, kw_only=True):
    """One page of VMs; pass `next_page_token` back to get the next one (null on the last page)."""

    items: list[VM]
    next_page_token: str | None
    watch_token: Annotated[
        str,
        Meta(
            description="WatchVMs from the first page's token (`resume_token=`) misses no later "
            "change; drop events at or below a revision you hold"
        ),
    ]
    total_size: (
        Annotated[
            int,
            Meta(
                description="VMs matching the filters (only with include_total=true): exact up "
                f"to {TOTAL_EXACT_MAX:,}; past that, {TOTAL_EXACT_MAX:,} with total_size_exact "
                "false (at least that many match)"
            ),
        ]
        | UnsetType
    ) = UNSET
    total_size_exact: (
        Annotated[
            bool,
            Meta(
                description="with include_total=true: false when total_size is only a lower "
                f"bound (more than {TOTAL_EXACT_MAX:,} VMs match a filtered list)"
            ),
        ]
        | UnsetType
    ) = UNSET


class Health(Struct):
    """Health probe answer."""

    status: str


class EventAction(StrEnum):
    """What a write did to a VM."""

    CREATED = "created"
    UPDATED = "updated"
    STATUS_CHANGED = "status_changed"
    DELETED = "deleted"
    RESTORED = "restored"
    PURGED = "purged"


class FieldChange(Struct, kw_only=True):
    """One field's value before and after a write (null where the VM did not exist)."""

    before: Any
    after: Any


class VMEvent(Struct, kw_only=True):
    """One entry of a VM's change history."""

    id: str
    vm_id: str
    project: str
    revision: Annotated[int, Meta(description="the VM's revision after the write")]
    action: EventAction
    changes: dict[str, FieldChange]
    timestamp: Timestamp
    actor: Annotated[str, Meta(description="who wrote: the API key's name, or anonymous")]
    request_id: str


class VMEventPage(Struct, kw_only=True):
    """One page of a VM's events, newest first; `next_page_token` is null on the last page."""

    items: list[VMEvent]
    next_page_token: str | None
