"""The VM as a plain app writes it: the service's fields, times as datetimes msgspec encodes."""

from __future__ import annotations

from datetime import datetime

import msgspec

from service.domain.schemas import VM, VM_TIMES

# The service has MongoDB write its times as text; a plain app lets its encoder write datetimes:
# the same JSON keys and field types otherwise.
PlainVM = msgspec.defstruct(
    "VM",
    [
        (f.name, datetime | msgspec.UnsetType if f.name in VM_TIMES else f.type, f.default)
        if f.default is not msgspec.NODEFAULT
        else (f.name, datetime if f.name in VM_TIMES else f.type)
        for f in msgspec.structs.fields(VM)
    ],
    kw_only=True,
)
