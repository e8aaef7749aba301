"""Change history: each write's event (built here, stored with the change) and reading it back."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import msgspec

from service.domain.errors import NotFound, ValidationFailed, invalid
from service.domain.idempotency import Claim
from service.domain.listing.tokens import PageTokens
from service.domain.projects.access import EVERY_PROJECT, Access
from service.domain.schemas import VM, WRITABLE_FIELDS, EventAction, VMEvent, VMEventPage, VMStatus

RECORDED_FIELDS = WRITABLE_FIELDS
DEFAULT_PAGE_SIZE = 50


@dataclass(frozen=True, slots=True)
class WriteContext:
    """Who writes, under which request id (recorded in the event of every write), the projects
    its key may see and write (`access`), and what every write of the request joins: the
    Idempotency-Key it records its response under (`claim`), and the transaction of an atomic
    batch (`session`, opaque here: storage's)."""

    actor: str = "anonymous"
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    claim: Claim | None = None
    session: Any = None
    access: Access = EVERY_PROJECT


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, VMStatus) else value


def _event(
    action: EventAction,
    project: str,
    revision: int,
    changes: dict[str, tuple[Any, Any]],
    timestamp: datetime,
    ctx: WriteContext,
) -> dict[str, Any]:
    return {
        "project": project,
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
    return _event(EventAction.CREATED, fields["project"], 1, changes, fields["created_at"], ctx)


def creation_record(ctx: WriteContext) -> dict[str, str]:
    """What a new VM stores of its creation: who and under which request id. Its `created` event
    is derived from this record and its first state (derived_created_event), so a create is one
    single-document write; the first later write of the VM adds that event to the history."""
    return {"created_by": ctx.actor, "created_request_id": ctx.request_id}


def derived_created_event(state: dict[str, Any]) -> dict[str, Any] | None:
    """The `created` event of a stored VM still at revision 1 with its creation record (exactly
    what created_event built at its create); None for a VM whose event is in the history."""
    if state.get("revision") != 1 or "created_by" not in state:
        return None
    return created_event(state, WriteContext(state["created_by"], state["created_request_id"]))


def updated_event(current: VM, changes: dict[str, Any], ctx: WriteContext) -> dict[str, Any]:
    """The event of an update replacing `current` with `changes` (status changes are named so)."""
    diff = {f: (_plain(getattr(current, f)), v) for f, v in changes.items() if f != "updated_at"}
    action = EventAction.STATUS_CHANGED if "status" in diff else EventAction.UPDATED
    return _event(action, current.project, current.revision + 1, diff, changes["updated_at"], ctx)


def _gone(current: VM) -> dict[str, tuple[Any, Any]]:
    return {f: (_plain(getattr(current, f)), None) for f in RECORDED_FIELDS}


def deleted_event(
    current: VM, timestamp: datetime, ctx: WriteContext, purge_at: datetime
) -> dict[str, Any]:
    """The event of a (soft) delete: every recorded field from its value to null. It also stores
    `purge_at` (never returned): a VM gone after such an event was purged by its retention."""
    event = _event(
        EventAction.DELETED, current.project, current.revision + 1, _gone(current), timestamp, ctx
    )
    return {**event, "purge_at": purge_at}


def restored_event(current: VM, timestamp: datetime, ctx: WriteContext) -> dict[str, Any]:
    """The event of a restore: every recorded field from null back to its value."""
    changes = {f: (None, _plain(getattr(current, f))) for f in RECORDED_FIELDS}
    return _event(
        EventAction.RESTORED, current.project, current.revision + 1, changes, timestamp, ctx
    )


def purged_event(current: VM, timestamp: datetime, ctx: WriteContext) -> dict[str, Any]:
    """The event of a purge: a live VM's fields go to null; a deleted VM's went already."""
    changes = {} if is_deleted(current) else _gone(current)
    return _event(
        EventAction.PURGED, current.project, current.revision + 1, changes, timestamp, ctx
    )


RETENTION_ACTOR = "retention"
"""The actor of a `purged` event derived for a VM MongoDB removed at its `purge_at`."""


def derived_purged_event(deleted: dict[str, Any]) -> dict[str, Any]:
    """The `purged` event of a VM that MongoDB's TTL index removed at its `purge_at`, derived
    from its last event (a `deleted` event with `purge_at`), as the `created` event is derived.
    Its id is deterministic: purge_at's seconds and the tail of the `deleted` event's id."""
    purge_at: datetime = deleted["purge_at"]
    tail = str(deleted["_id"])[8:]
    event = _event(
        EventAction.PURGED, deleted["project"], deleted["revision"] + 1, {}, purge_at,
        WriteContext(RETENTION_ACTOR, f"purge_at:{purge_at.isoformat()}"),
    )  # fmt: skip
    return {**event, "_id": f"{int(purge_at.timestamp()) & 0xFFFFFFFF:08x}{tail}"}


def is_deleted(vm: VM) -> bool:
    """Whether the VM is soft-deleted (restorable until its purge_at)."""
    return not isinstance(vm.deleted_at, msgspec.UnsetType)


MAX_REVISION = 2**63 - 1  # BSON int64, the widest integer MongoDB compares
_WALK = "ListVMEvents"  # ListVMs bindings hash [sort order, filter]: never this


def event_binding(vm_id: str) -> str:
    """What an events page token is bound to: this VM's history, newest first."""
    digest = hashlib.sha256(msgspec.json.encode([_WALK, vm_id.lower()]))
    return digest.hexdigest()[:32]


def decode_event_token(tokens: PageTokens, vm_id: str, token: str) -> int:
    """The revision a signed token of this VM's walk points below; else a 400 naming it."""
    cursor = tokens.decode(token, event_binding(vm_id), "revision", foreign="another VM")
    if not isinstance(cursor.value, int) or not 1 <= cursor.value <= MAX_REVISION:
        raise invalid("page_token", "not a page token this service issued")
    return cursor.value


class EventRepository(Protocol):
    """What reading the history needs from storage."""

    async def list_events(
        self,
        vm_id: str,
        limit: int,
        before_revision: int | None = None,
        projects: tuple[str, ...] | None = None,
    ) -> list[VMEvent]:
        """A VM's events, highest revision first, below `before_revision`; only in `projects`
        (None: any)."""

    async def get_by_id(self, vm_id: str) -> VM:
        """Return the VM or raise NotFound."""


class EventService:
    """Reads a VM's change history (also after the VM was deleted)."""

    def __init__(self, repo: EventRepository, page_tokens: PageTokens | None = None) -> None:
        """Read events through `repo`; `page_tokens` signs the page tokens (as for ListVMs)."""
        self.repo = repo
        self.page_tokens = page_tokens or PageTokens()

    async def list_events(
        self,
        vm_id: str,
        page_size: int = DEFAULT_PAGE_SIZE,
        page_token: str | None = None,
        access: Access = EVERY_PROJECT,
    ) -> VMEventPage:
        """A page of the VM's events, newest first; 404 only for an id that never existed, or
        of a VM in a project `access` does not see."""
        before = None
        if page_token:
            try:
                before = decode_event_token(self.page_tokens, vm_id, page_token)
            except ValidationFailed:
                await self._check_known(vm_id, access)  # an unknown VM is a 404, token or not
                raise
        items = await self.repo.list_events(vm_id, page_size + 1, before, access.projects)
        if not items:
            await self._check_known(vm_id, access)
        more = len(items) > page_size
        items = items[:page_size]
        token = None
        if more:
            last = items[-1]
            binding = event_binding(vm_id)
            token = self.page_tokens.encode(binding, last.revision, last.id, ties=False)
        return VMEventPage(items=items, next_page_token=token)

    async def _check_known(self, vm_id: str, access: Access) -> None:
        """Raise NotFound unless the VM exists or has a history (a deleted VM keeps its own),
        in a project `access` sees."""
        if await self.repo.list_events(vm_id, 1, None, access.projects):
            return
        vm = await self.repo.get_by_id(vm_id)  # a VM stored before history had none
        if not access.sees(vm.project):
            raise NotFound(f"no VM with id {vm_id!r}")
