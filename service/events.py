"""Change history: each write's event (built here, stored with the change) and reading it back."""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import msgspec

from service.errors import FieldError, ValidationFailed
from service.schemas import (
    VM,
    WRITABLE_FIELDS,
    EventAction,
    VMEvent,
    VMEventPage,
    VMStatus,
)

RECORDED_FIELDS = WRITABLE_FIELDS
DEFAULT_PAGE_SIZE = 50


@dataclass(frozen=True, slots=True)
class WriteContext:
    """Who writes, under which request id: recorded in the event of every write."""

    actor: str = "anonymous"
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, VMStatus) else value


def _event(
    action: EventAction,
    revision: int,
    changes: dict[str, tuple[Any, Any]],
    timestamp: datetime,
    ctx: WriteContext,
) -> dict[str, Any]:
    return {
        "revision": revision,
        "action": action.value,
        "changes": {f: {"before": b, "after": a} for f, (b, a) in changes.items()},
        "timestamp": timestamp,
        "actor": ctx.actor,
        "request_id": ctx.request_id,
    }


def created_event(fields: dict[str, Any], ctx: WriteContext) -> dict[str, Any]:
    """The event of a create: every recorded field from null to its value."""
    changes = {f: (None, fields[f]) for f in RECORDED_FIELDS}
    return _event(EventAction.CREATED, 1, changes, fields["created_at"], ctx)


def updated_event(current: VM, changes: dict[str, Any], ctx: WriteContext) -> dict[str, Any]:
    """The event of an update replacing `current` with `changes` (status changes are named so)."""
    diff = {f: (_plain(getattr(current, f)), v) for f, v in changes.items() if f != "updated_at"}
    action = EventAction.STATUS_CHANGED if "status" in diff else EventAction.UPDATED
    return _event(action, current.revision + 1, diff, changes["updated_at"], ctx)


def deleted_event(current: VM, timestamp: datetime, ctx: WriteContext) -> dict[str, Any]:
    """The event of a delete: every recorded field from its value to null."""
    changes = {f: (_plain(getattr(current, f)), None) for f in RECORDED_FIELDS}
    return _event(EventAction.DELETED, current.revision + 1, changes, timestamp, ctx)


def encode_event_token(event: VMEvent) -> str:
    """An opaque token pointing just after `event` (newest first)."""
    raw = msgspec.json.encode([event.revision])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_event_token(token: str) -> int:
    """Inverse of encode_event_token; a damaged token is a 400 naming `page_token`."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        (revision,) = msgspec.json.decode(raw, type=tuple[int])
        return revision
    except (binascii.Error, ValueError, msgspec.DecodeError):
        message = "not a token this service issued"
        errors = [FieldError("page_token", message)]
        raise ValidationFailed(f"page_token: {message}", errors) from None


class EventRepository(Protocol):
    """What reading the history needs from storage."""

    async def list_events(
        self, vm_id: str, limit: int, before_revision: int | None = None
    ) -> list[VMEvent]:
        """A VM's events, highest revision first, below `before_revision`."""

    async def get_by_id(self, vm_id: str) -> VM:
        """Return the VM or raise NotFound."""


class EventService:
    """Reads a VM's change history (also after the VM was deleted)."""

    def __init__(self, repo: EventRepository) -> None:
        """Read events through `repo`."""
        self.repo = repo

    async def list_events(
        self, vm_id: str, page_size: int = DEFAULT_PAGE_SIZE, page_token: str | None = None
    ) -> VMEventPage:
        """A page of the VM's events, newest first; 404 only for an id that never existed."""
        before = decode_event_token(page_token) if page_token else None
        items = await self.repo.list_events(vm_id, page_size + 1, before)
        if not items and before is None:
            await self.repo.get_by_id(vm_id)  # a VM stored before history existed has no events
        more = len(items) > page_size
        items = items[:page_size]
        token = encode_event_token(items[-1]) if more else None
        return VMEventPage(items=items, next_page_token=token)
