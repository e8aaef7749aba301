"""What the VM use cases need from storage: the Repository protocol (VMRepository, or the fake of
the unit tests) and StaleRevision, its answer to a lost compare-and-set."""

from __future__ import annotations

from typing import Any, Protocol

from service.domain.events import WriteContext
from service.domain.listing import ListQuery
from service.domain.projects import UsageChange
from service.domain.schemas import VM

VMs = list[VM]  # (inside Repository, `list` names the method)


class StaleRevision(Exception):
    """Storage's answer to a lost compare-and-set: the VM is no longer at the expected revision.

    Never reaches a client: the service retries, or answers 412 when the client sent If-Match.
    """

    def __init__(self, current_revision: int) -> None:
        """Record the revision the VM is at now."""
        super().__init__(f"the VM is at revision {current_revision}")
        self.current_revision = current_revision


class Repository(Protocol):
    """What the service needs from storage (VMRepository, or a fake in unit tests).

    A write's `ctx` is the request's: its writes record their response under `ctx.claim` in their
    own transaction, and its reads and writes join `ctx.session` (an atomic batch's) when set.
    """

    async def ping(self) -> None:
        """Raise DatabaseUnavailable unless storage answers."""

    async def create(
        self,
        fields: dict[str, Any],
        ctx: WriteContext | None = None,
        usage: UsageChange | None = None,
    ) -> VM:
        """Insert (the fields hold the creation record of the `created` event) with its `usage`
        change in one atomic step; raise NameConflict for a name taken in its project,
        QuotaExceeded past the project's quota."""

    async def get_by_id(
        self, vm_id: str, include_deleted: bool = False, ctx: WriteContext | None = None
    ) -> VM:
        """Return the live VM (or a deleted one with `include_deleted`), else raise NotFound."""

    async def list(self, query: ListQuery) -> list[VM]:
        """Up to `query.limit` VMs in the query's order, after its keyset position."""

    async def list_with_watch_token(self, query: ListQuery) -> tuple[VMs, str]:
        """`list` from one snapshot, and a watch token no later than that snapshot."""

    async def count(self, query: ListQuery, at_most: int | None = None) -> int | None:
        """How many VMs match the query's filter; None when more than `at_most` do and they
        cannot be counted in O(1) (the whole collection's counts are exact)."""

    async def update(
        self,
        vm_id: str,
        expected_revision: int,
        changes: dict[str, Any],
        event: dict[str, Any],
        ctx: WriteContext | None = None,
        usage: UsageChange | None = None,
    ) -> VM:
        """Compare-and-set on revision, with its event and its `usage` change (a resize);
        raise NotFound, StaleRevision or QuotaExceeded."""

    async def delete(
        self,
        vm_id: str,
        expected_revision: int,
        event: dict[str, Any],
        ctx: WriteContext | None = None,
        usage: UsageChange | None = None,
    ) -> None:
        """Soft delete, freeing its `usage`: compare-and-set on revision setting deleted_at (the
        event's timestamp) and purge_at (the event's), with its event; raise NotFound or
        StaleRevision."""

    async def restore(
        self,
        vm_id: str,
        expected_revision: int,
        event: dict[str, Any],
        ctx: WriteContext | None = None,
        usage: UsageChange | None = None,
    ) -> VM:
        """Compare-and-set on revision of a deleted VM: live again, with its event, taking its
        `usage` within the quota; NotFound, StaleRevision (also when it is not deleted),
        NameConflict naming the holder, or QuotaExceeded."""

    async def purge(
        self,
        vm_id: str,
        expected_revision: int,
        event: dict[str, Any],
        ctx: WriteContext | None = None,
        usage: UsageChange | None = None,
    ) -> None:
        """Remove the VM, live or deleted, if at `expected_revision`, with its event (freeing
        its `usage` when live); raise NotFound or StaleRevision."""
