"""Bulk use cases: upsert by name, and batches of writes whose items follow the single-VM rules.

Every item goes through the VMService method its single-VM route calls, so each rule (names
unique ignoring case, transitions, resizes, force, If-Match) and each history event is the same.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import sys
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any, Protocol, TypeVar

import msgspec

from service.domain.bulk_items import (
    Create,
    Delete,
    Operation,
    Outcome,
    Replace,
    Update,
    Upsert,
    batch_keys,
    claims_a_name,
    named_by_id,
    upserts_by_name,
)
from service.domain.errors import (
    DatabaseUnavailable,
    DomainError,
    FieldError,
    NameConflict,
    NotApplied,
    NotFound,
    PreconditionFailed,
    QuotaExceeded,
    ValidationFailed,
    WriteContention,
    invalid,
)
from service.domain.events import WriteContext
from service.domain.listing import ListParams, ListQuery, PageTokens, compile_query
from service.domain.projects import EVERY_PROJECT, Access, UsageChange, combined
from service.domain.revisions import IfMatch
from service.domain.rules import check_fields, check_name
from service.domain.schemas import VM, InitialStatus, VMCreate, VMReplace
from service.domain.slots import Slots
from service.domain.vms import Renamed, VMService, arrival, within

BATCH_MAX_OPERATIONS = 1000
BATCH_CONCURRENCY = 16  # items (or groups of creates) of a non-atomic batch in flight at once
CREATE_GROUP = 100  # consecutive creates inserted in one transaction (one commit, not 100)
MAX_UPSERT_ATTEMPTS = 16
T = TypeVar("T")


class BulkRepository(Protocol):
    """What the bulk use cases need from storage besides the VMService's repository."""

    async def get_by_name(
        self, name: str, project: str, ctx: WriteContext | None = None
    ) -> VM | None:
        """The live VM of `project` with this name ignoring case, if any (read in `ctx.session`
        when set)."""

    async def names_of(self, vm_ids: list[str]) -> dict[str, str]:
        """The names of the live VMs among `vm_ids`, by id."""

    async def create_many(self, vms: list[dict[str, Any]], usage: list[UsageChange]) -> list[VM]:
        """Insert VMs (fields with their creation record) with their projects' `usage` changes
        in one transaction, all or none; NameConflict when any name is taken, QuotaExceeded
        past a quota."""

    async def atomically(self, work: Callable[[Any], Awaitable[T]]) -> T:
        """Run `work(session)` in one transaction, which the VM reads and writes given it (in
        their WriteContext) join."""

    def export(self, query: ListQuery) -> AsyncGenerator[list[VM]]:
        """Every VM matching the query, in its order, from one snapshot, a batch at a time."""


class _RollBack(Exception):
    """Raised inside an atomic batch's transaction at its first failing item, to undo it all."""

    def __init__(self, outcomes: list[Outcome]) -> None:
        super().__init__("an item of the atomic batch failed")
        self.outcomes = outcomes


def _retrieved(task: asyncio.Task[list[Outcome]]) -> None:
    if not task.cancelled():
        task.exception()  # nobody awaits it any more


def _revisions(if_match: int | None) -> IfMatch:
    return None if if_match is None else {if_match}


def _missing(detail: str) -> PreconditionFailed:
    """412 for a precondition on a VM that does not exist (no current revision to name)."""
    error = PreconditionFailed(detail, current_revision=0)
    error.extra.pop("current_revision")
    return error


def as_create(data: VMReplace) -> VMCreate:
    """The CreateVM body an upsert creates with; a status a new VM cannot have is a 400."""
    status = InitialStatus.PROVISIONING
    if not isinstance(data.status, msgspec.UnsetType):
        allowed = [s.value for s in InitialStatus]
        if data.status.value not in allowed:
            message = f"a new VM starts as one of {allowed}, not {data.status.value!r}"
            raise ValidationFailed(f"status: {message}", [FieldError("status", message)])
        status = InitialStatus(data.status.value)
    fields = msgspec.structs.asdict(data)
    fields["status"] = status
    return VMCreate(**fields)


class BulkService:
    """Upsert by name, batches (atomic or not) and exports, over the single-VM use cases."""

    def __init__(self, vms: VMService, repo: BulkRepository, exports: Slots | None = None) -> None:
        """Apply items through `vms`; look names up and open transactions through `repo`; run
        exports within `exports` (per key and process; unbounded without)."""
        self.vms = vms
        self.repo = repo
        self.exports = exports or Slots("exports", sys.maxsize, sys.maxsize)
        # Exports take turns reading and converting a batch: a request waits behind one batch,
        # not one per export running (the event loop runs them all).
        self._export_turn = asyncio.Lock()

    async def upsert_vm(
        self,
        name: str,
        data: VMReplace,
        if_match: IfMatch = None,
        create_only: bool = False,
        ctx: WriteContext | None = None,
        must_exist: bool = False,
        project: str | None = None,
    ) -> tuple[VM, bool]:
        """Create (True) or replace (False) the VM named `name` ignoring case in `project` (else
        the body's, else the key's home project).

        `create_only` (If-None-Match: *) refuses an existing VM; `if_match` or `must_exist`
        (If-Match: *) a missing one. Racing upserts of one name end in one VM: the losing create
        replaces the winner's; a VM renamed meanwhile is no longer the one named `name`.
        """
        check_name(name)  # the path's
        check_fields({"name": data.name, "ip_address": data.ip_address, "labels": data.labels})
        if data.name.lower() != name.lower():
            message = f"must be {name!r} (ignoring case), the name in the path"
            raise ValidationFailed(f"name: {message}", [FieldError("name", message)])
        context = ctx or WriteContext()
        given = None if data.project is msgspec.UNSET else data.project
        if project is not None and given is not None and given != project:
            raise invalid("project", f"the body names {given!r}, the query {project!r}")
        target = context.access.target(project or given)
        data = msgspec.structs.replace(data, project=target)
        for _ in range(MAX_UPSERT_ATTEMPTS):
            current = await self.repo.get_by_name(name, target, context)
            if current is None:
                if if_match is not None or must_exist:
                    raise _missing(f"no VM is named {name!r}, and If-Match needs one")
                try:
                    return await self.vms.create_vm(as_create(data), context), True
                except NameConflict:
                    if context.session is not None:
                        raise  # the failed insert ended the atomic batch's transaction
                    continue  # created meanwhile by another request: replace that one
            if create_only:
                raise PreconditionFailed(
                    f"a VM named {current.name!r} exists (If-None-Match: *)",
                    current_revision=current.revision,
                )
            try:
                vm = await self.vms.replace_vm(current.id, data, if_match, context, named=name)
                return vm, False
            except (NotFound, Renamed):
                continue  # deleted or renamed meanwhile: find the VM of that name again
        raise WriteContention("the name kept changing hands; retry")

    async def run_batch(
        self, ops: list[Operation], atomic: bool, ctx: WriteContext
    ) -> tuple[list[Outcome], bool]:
        """Every item's outcome in input order, and whether the batch was applied.

        Not atomic: each item commits on its own (items on one VM or name in input order).
        Atomic: one transaction, undone at the first failing item; the others then answer
        NotApplied. MongoDB unreachable is no item's outcome: DatabaseUnavailable ends the batch.
        """
        if not atomic:
            return await self._each(ops, ctx), True

        async def work(session: Any) -> list[Outcome]:
            joined = dataclasses.replace(ctx, session=session)  # every item joins the transaction
            outcomes: list[Outcome] = []
            for index, op in enumerate(ops):
                outcomes.append(await self._apply(index, op, joined))
                if outcomes[-1].error is not None:
                    raise _RollBack(outcomes)
            return outcomes

        try:
            return await self.repo.atomically(work), True
        except _RollBack as rollback:
            failed = rollback.outcomes[-1]
            aborted = NotApplied(
                f"not applied: operation {failed.index} failed and the batch is atomic"
            )
            results = [Outcome(i, error=aborted) for i in range(len(ops))]
            results[failed.index] = failed
            return results, False

    async def _each(self, ops: list[Operation], ctx: WriteContext) -> list[Outcome]:
        # Units: one item, or a run of up to CREATE_GROUP consecutive creates.
        units: list[list[tuple[int, Operation]]] = []
        for index, op in enumerate(ops):
            last = units[-1] if units else []
            follows_create = isinstance(last[-1][1] if last else None, Create)
            if isinstance(op, Create) and follows_create and len(last) < CREATE_GROUP:
                last.append((index, op))
                continue
            units.append([(index, op)])
        keys_of = await self._keys(ops)
        gate = asyncio.Semaphore(BATCH_CONCURRENCY)
        latest: dict[str, asyncio.Task[list[Outcome]]] = {}
        tasks: list[asyncio.Task[list[Outcome]]] = []
        stopped = False  # MongoDB failed (or the request was cancelled): start no more items

        async def run(
            unit: list[tuple[int, Operation]], after: list[asyncio.Task[list[Outcome]]]
        ) -> list[Outcome]:
            nonlocal stopped
            if after:
                await asyncio.wait(after)
            async with gate:
                if stopped:
                    raise DatabaseUnavailable()
                try:
                    if len(unit) > 1:
                        return await self._create_group(unit, ctx)
                    return [await self._apply(*unit[0], ctx)]
                except DatabaseUnavailable:
                    stopped = True
                    raise

        # An item in flight is never cancelled (it may be inside its transaction): each one
        # started finishes within its own time bound, then the batch answers.
        try:
            for unit in units:
                keys = set().union(*(keys_of[index] for index, _ in unit))
                after = list({latest[k] for k in keys if k in latest})
                task = asyncio.create_task(run(unit, after))
                latest.update(dict.fromkeys(keys, task))
                tasks.append(task)
            if tasks:
                await asyncio.wait(tasks)
        finally:
            if not all(task.done() for task in tasks):  # cancelled: the rest finish unwatched
                stopped = True
                for task in tasks:
                    task.add_done_callback(_retrieved)
        for task in tasks:
            if (error := task.exception()) is not None:
                raise error
        return [outcome for task in tasks for outcome in task.result()]

    async def _keys(self, ops: list[Operation]) -> list[set[str]]:
        """Each item's ordering keys; the current names of the VMs items by id touch are read
        once, when such an item may free a name another claims or the batch upserts by name."""
        upserts = upserts_by_name(ops)
        by_id = [vm_id for op in ops if (vm_id := named_by_id(op, upserts)) is not None]
        claims = any(map(claims_a_name, ops))
        names = await self.repo.names_of(by_id) if by_id and claims else {}
        return batch_keys(ops, names)

    async def _create_group(
        self, unit: list[tuple[int, Operation]], ctx: WriteContext
    ) -> list[Outcome]:
        """Creates in one transaction; should a name be taken, each on its own (its answer)."""
        outcomes: dict[int, Outcome] = {}
        ready: list[tuple[int, dict[str, Any]]] = []
        for index, op in unit:
            assert isinstance(op, Create)
            try:
                ready.append((index, self.vms.new_vm(op.vm, ctx)))
            except DatabaseUnavailable:
                raise
            except DomainError as exc:
                outcomes[index] = Outcome(index, error=exc)
        if ready:
            try:
                fields = [new for _, new in ready]
                created = await self.repo.create_many(fields, combined(list(map(arrival, fields))))
                for (index, _), vm in zip(ready, created, strict=True):
                    outcomes[index] = Outcome(index, vm, created=True)
            except (NameConflict, QuotaExceeded, ValidationFailed):  # then each gets its answer
                ops = dict(unit)
                for index, _ in ready:
                    outcomes[index] = await self._apply(index, ops[index], ctx)
        return [outcomes[index] for index, _ in unit]

    async def _apply(self, index: int, op: Operation, ctx: WriteContext) -> Outcome:
        """One item through its single-VM use case; its domain error is its outcome."""
        try:
            if isinstance(op, Create):
                return Outcome(index, await self.vms.create_vm(op.vm, ctx), created=True)
            if isinstance(op, Update):
                vm = await self.vms.update_vm(op.vm_id, op.patch, _revisions(op.if_match), ctx)
                return Outcome(index, vm)
            if isinstance(op, Replace):
                vm = await self.vms.replace_vm(op.vm_id, op.vm, _revisions(op.if_match), ctx)
                return Outcome(index, vm)
            if isinstance(op, Upsert):
                vm, created = await self.upsert_vm(op.name, op.vm, ctx=ctx)
                return Outcome(index, vm, created=created)
            if isinstance(op, Delete):
                await self.vms.delete_vm(op.vm_id, op.force, _revisions(op.if_match), ctx)
                return Outcome(index)
            raise op.error
        except DatabaseUnavailable:
            raise
        except DomainError as exc:
            return Outcome(index, error=exc)

    async def export(
        self, params: ListParams, key: str = "", access: Access = EVERY_PROJECT
    ) -> AsyncGenerator[list[VM]]:
        """Every VM matching ListVMs' filters in the projects `access` reads, in its order, from
        one snapshot, in batches; it holds one of the export slots of `key` from its first batch
        until it is closed."""
        query = compile_query(within(params, access), PageTokens())
        with self.exports.holding(key):
            async with contextlib.aclosing(self.repo.export(query)) as batches:  # closed with this
                while True:
                    async with self._export_turn:
                        batch = await anext(batches, None)
                    if batch is None:
                        return
                    yield batch
