"""The VM as a plain app writes it: the service's fields, times as datetimes msgspec encodes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from service.domain.schemas import VM, VM_TIMES

BENCH_FIELDS = frozenset(
    ("id", "name", "status", "os", "cpu_cores", "memory_mib", "storage_gib", "ip_address",
     "labels", "description", "revision", "created_at", "updated_at")
)  # fmt: skip
"""What every VM in the benchmark's database holds, whichever target wrote it (the floors and
FastAPI write these only)."""


def plain(vm: type[msgspec.Struct]) -> Any:
    """`vm`'s fields with its times as datetimes (a plain app lets its encoder write them); a
    required field the benchmark's other writers do not store (one the service gained, such as a
    project) is optional: absent from a document, absent from the answer."""
    fields: list[Any] = []
    for f in msgspec.structs.fields(vm):
        kind = datetime if f.name in VM_TIMES else f.type
        if f.default is not msgspec.NODEFAULT:
            fields.append((f.name, datetime | msgspec.UnsetType if f.name in VM_TIMES else kind,
                           f.default))  # fmt: skip
        elif f.name in BENCH_FIELDS:
            fields.append((f.name, kind))
        else:
            fields.append((f.name, kind | msgspec.UnsetType, msgspec.UNSET))
    return msgspec.defstruct(vm.__name__, fields, kw_only=True)


# The service has MongoDB write its times as text; a plain app lets its encoder write datetimes:
# the same JSON keys and field types otherwise.
PlainVM = plain(VM)
