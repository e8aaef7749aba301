"""The VM use cases: each checks the rules (domain.rules) against the state its write replaces."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

import msgspec

from service.domain.errors import (
    NotDeleted,
    NotFound,
    RuleViolation,
    WriteContention,
    invalid,
)
from service.domain.events import (
    WriteContext,
    creation_record,
    deleted_event,
    is_deleted,
    purged_event,
    restored_event,
    updated_event,
)
from service.domain.listing import ListParams, PageTokens, check_projects, compile_query
from service.domain.listing.paging import next_page, one_more
from service.domain.projects import EVERY_PROJECT, RESOURCES, Access, UsageChange, change, usage_of
from service.domain.repository import Repository, StaleRevision
from service.domain.revisions import IfMatch, after_lost, check_if_match
from service.domain.rules import (
    DELETE_NEEDS_FORCE,
    canonical_ip,
    check_fields,
    check_labels,
    check_resize,
    check_transition,
    utcnow,
)
from service.domain.schemas import (
    TOTAL_EXACT_MAX,
    VM,
    VMCreate,
    VMPage,
    VMPatch,
    VMReplace,
    VMStatus,
)

MAX_WRITE_ATTEMPTS = 64
DEFAULT_RETENTION = timedelta(days=30)

T = TypeVar("T")


class Renamed(Exception):
    """A write addressed by name found the VM it resolved under another name (resolve again)."""


class VMService:
    """The VM use cases: every rule is checked against the state the write replaces."""

    def __init__(
        self,
        repo: Repository,
        clock: Callable[[], datetime] = utcnow,
        page_tokens: PageTokens | None = None,
        retention: timedelta = DEFAULT_RETENTION,
    ) -> None:
        """Serve use cases over `repo`; `clock` gives timestamps, `page_tokens` signs tokens,
        `retention` is how long a deleted VM stays restorable."""
        self.repo = repo
        self.clock = clock
        self.page_tokens = page_tokens or PageTokens()
        self.retention = retention

    async def create_vm(self, data: VMCreate, ctx: WriteContext | None = None) -> VM:
        """Register a new VM at revision 1, in its project (the key's home project when the
        body names none): 403 for a project the key may not write, 409 past its quota."""
        context = ctx or WriteContext()
        fields = self.new_vm(data, context)
        return await self.repo.create(fields, context, arrival(fields))

    def new_vm(self, data: VMCreate, ctx: WriteContext) -> dict[str, Any]:
        """The checked fields of a VM to register, with its creation record (its `created` event
        is derived from them until its first later write)."""
        now = self.clock()
        check_fields({"name": data.name, "ip_address": data.ip_address, "labels": data.labels})
        ip = canonical_ip(data.ip_address)
        project = ctx.access.target(None if data.project is msgspec.UNSET else data.project)
        fields: dict[str, Any] = msgspec.to_builtins(data)  # every writable field
        fields.update(project=project, ip_address=ip, revision=1, created_at=now, updated_at=now)
        fields.update(creation_record(ctx))
        return fields

    async def ping(self) -> None:
        """Raise DatabaseUnavailable unless the database answers."""
        await self.repo.ping()

    async def get_vm(
        self, vm_id: str, show_deleted: bool = False, access: Access = EVERY_PROJECT
    ) -> VM:
        """One live VM by id (or a deleted one too, with `show_deleted`) that `access` sees."""
        vm = await self.repo.get_by_id(vm_id, include_deleted=show_deleted)
        return visible(vm, access, vm_id)

    async def list_vms(self, params: ListParams, access: Access = EVERY_PROJECT) -> VMPage:
        """A page of VMs under the given filters and order, with the token for the next one;
        only in the projects `access` reads (403 naming `project` for one it may not)."""
        query = compile_query(within(params, access), self.page_tokens)
        items, watch_token = await self.repo.list_with_watch_token(one_more(query))
        items, token = next_page(items, query, self.page_tokens)
        page = VMPage(items=items, next_page_token=token, watch_token=watch_token)
        if params.include_total:
            total = await self.repo.count(query, at_most=TOTAL_EXACT_MAX)
            page.total_size = TOTAL_EXACT_MAX if total is None else total
            page.total_size_exact = total is not None
        return page

    async def replace_vm(
        self,
        vm_id: str,
        data: VMReplace,
        if_match: IfMatch = None,
        ctx: WriteContext | None = None,
        named: str | None = None,
    ) -> VM:
        """Replace every writable field; an omitted status stays as it is. `named`: the name
        (ignoring case) the VM was found by; Renamed when it has another one now."""
        check_fields({"name": data.name, "ip_address": data.ip_address, "labels": data.labels})
        ip = canonical_ip(data.ip_address)

        def build(current: VM) -> dict[str, Any]:
            if named is not None and current.name.lower() != named.lower():
                raise Renamed(current.name)
            same_project(current, data.project)
            status = current.status if isinstance(data.status, msgspec.UnsetType) else data.status
            check_transition(current.status, status)
            check_resize(current, data.cpu_cores, data.memory_mib, data.storage_gib)
            desired: dict[str, Any] = msgspec.to_builtins(data)
            desired.pop("project", None)
            desired.update(status=status.value, ip_address=ip)
            return _diff(current, desired)

        return await self._write(vm_id, if_match, build, ctx or WriteContext())

    async def update_vm(
        self,
        vm_id: str,
        patch: VMPatch,
        if_match: IfMatch = None,
        ctx: WriteContext | None = None,
    ) -> VM:
        """Apply a JSON Merge Patch."""
        unset = msgspec.UNSET
        check_fields(msgspec.structs.asdict(patch))  # (UNSET and None are no field to check)
        ip = canonical_ip(patch.ip_address) if patch.ip_address is not unset else unset

        def build(current: VM) -> dict[str, Any]:
            same_project(current, patch.project)
            desired: dict[str, Any] = msgspec.to_builtins(patch)  # the fields given (not UNSET)
            desired.pop("labels", None)
            desired.pop("project", None)
            if ip is not unset:
                desired["ip_address"] = ip
            if patch.labels is not unset:
                labels = dict(current.labels)
                for key, value in patch.labels.items():
                    if value is None:
                        labels.pop(key, None)
                    else:
                        labels[key] = value
                desired["labels"] = check_labels(labels)
            if "status" in desired:
                check_transition(current.status, VMStatus(desired["status"]))
            check_resize(
                current,
                desired.get("cpu_cores", current.cpu_cores),
                desired.get("memory_mib", current.memory_mib),
                desired.get("storage_gib", current.storage_gib),
            )
            return _diff(current, desired)

        return await self._write(vm_id, if_match, build, ctx or WriteContext())

    async def delete_vm(
        self,
        vm_id: str,
        force: bool = False,
        if_match: IfMatch = None,
        ctx: WriteContext | None = None,
        purge: bool = False,
    ) -> None:
        """Delete a live VM, restorable for `retention`; a running or suspended one only with
        `force`. `purge` removes the VM at once, live (same force rule) or deleted."""
        context = ctx or WriteContext()

        async def attempt(current: VM) -> None:
            live = not is_deleted(current)
            if live and current.status in DELETE_NEEDS_FORCE and not force:
                raise RuleViolation(
                    f"the VM is {current.status.value}; stop it first or delete with force=true"
                )
            now = self.clock()
            freed = departure(current) if live else None
            if purge:
                event = purged_event(current, now, context)
                await self.repo.purge(vm_id, current.revision, event, context, freed)
                return
            event = deleted_event(current, now, context, purge_at=now + self.retention)
            await self.repo.delete(vm_id, current.revision, event, context, freed)

        await self._compare_and_set(vm_id, if_match, attempt, context, include_deleted=purge)

    async def restore_vm(
        self, vm_id: str, if_match: IfMatch = None, ctx: WriteContext | None = None
    ) -> VM:
        """Make a deleted VM live again at a new revision (409 when it is live, or when its name
        was taken meanwhile: the problem names the holder)."""
        context = ctx or WriteContext()

        async def attempt(current: VM) -> VM:
            if not is_deleted(current):
                raise NotDeleted(f"the VM {vm_id!r} is not deleted; only a deleted VM is restored")
            event = restored_event(current, self.clock(), context)
            taken = change(current.project, None, usage_of(current))  # checked against the quota
            return await self.repo.restore(vm_id, current.revision, event, context, taken)

        return await self._compare_and_set(vm_id, if_match, attempt, context, include_deleted=True)

    async def _write(
        self,
        vm_id: str,
        if_match: IfMatch,
        build: Callable[[VM], dict[str, Any]],
        ctx: WriteContext,
    ) -> VM:
        """Write the changes `build` derives from the current state (none: no write)."""

        async def attempt(current: VM) -> VM:
            changes = build(current)
            if not changes:
                return current
            changes["updated_at"] = self.clock()
            event = updated_event(current, changes, ctx)
            resized = change(current.project, usage_of(current), {**usage_of(current), **{
                r: changes[r] for r in RESOURCES if r in changes}})  # fmt: skip
            return await self.repo.update(
                vm_id, current.revision, changes, event, ctx, resized or None
            )

        return await self._compare_and_set(vm_id, if_match, attempt, ctx)

    async def _compare_and_set(
        self,
        vm_id: str,
        if_match: IfMatch,
        attempt: Callable[[VM], Awaitable[T]],
        ctx: WriteContext,
        include_deleted: bool = False,
    ) -> T:
        """Read, check the rules on that state, write only if it is unchanged; retry if it was.
        A deleted VM is missing to every write but a restore or purge (`include_deleted`)."""
        for _ in range(MAX_WRITE_ATTEMPTS):
            current = await self.repo.get_by_id(vm_id, include_deleted, ctx)
            visible(current, ctx.access, vm_id)
            check_if_match(current.revision, if_match, "VM")
            try:
                return await attempt(current)
            except StaleRevision as lost:
                await after_lost(lost, if_match, "VM")
        raise WriteContention("the VM kept changing; retry")


def visible(vm: VM, access: Access, vm_id: str) -> VM:
    """`vm` (read by `vm_id`) when `access` sees its project; else exactly the 404 of a VM
    that does not exist."""
    if not access.sees(vm.project):
        raise NotFound(f"no VM with id {vm_id!r}")
    return vm


def within(params: ListParams, access: Access) -> ListParams:
    """ListVMs', WatchVMs' and ExportVMs' filters narrowed to the projects `access` reads (403
    naming `project` for a project asked for that it may not)."""
    check_projects(params.project)
    projects = access.narrow(params.project)
    if projects is None:
        return params
    return msgspec.structs.replace(params, project=list(projects))


def same_project(current: VM, project: str | msgspec.UnsetType) -> None:
    """A write naming a project must name the VM's own: a VM never moves (400 naming it)."""
    if project is not msgspec.UNSET and project != current.project:
        raise invalid("project", f"a VM never changes project: this one is in {current.project!r}")


def arrival(fields: dict[str, Any]) -> UsageChange:
    """What a new live VM (its stored fields) adds to its project's usage."""
    return change(fields["project"], None, usage_of(fields))


def departure(current: VM) -> UsageChange:
    """What a live VM leaving (deleted or purged) frees of its project's usage."""
    return change(current.project, usage_of(current), None)


def _diff(current: VM, desired: dict[str, Any]) -> dict[str, Any]:
    """The fields of `desired` that differ from `current`."""
    out: dict[str, Any] = {}
    for field, value in desired.items():
        old = getattr(current, field)
        old = old.value if isinstance(old, VMStatus) else old
        if old != value:
            out[field] = value
    return out
