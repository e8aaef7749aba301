"""The reads of `inv.vms`: GetVM, ListVMs (lazy pages, counts), ListVMEvents, WatchVMs and the
informer."""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator
from typing import Unpack

from ..api.vms import get_vm, list_vm_events, list_vms
from ..models import VM, SortOrder, VMEvent, VMEventPage, VMPage
from ..types import UNSET, Unset
from .arguments import Filters, Revision, etag, pages, parsed, query
from .sending import Sender
from .watching import Informer, WatchEvent, watch_events


class VMReads:
    """The read operations of /api/v1/vms."""

    def __init__(self, sender: Sender) -> None:
        """Send through `sender` (shared with the writes and the bulk operations)."""
        self._sender = sender

    async def get(self, vm_id: str, *, show_deleted: bool = False) -> VM:
        """One VM (GetVM); `show_deleted=True` also finds a deleted one (with `deleted_at` and
        `purge_at`)."""
        response = await self._sender.read(
            get_vm.asyncio_detailed, vm_id, show_deleted=show_deleted
        )
        return parsed(response, VM)

    async def get_if_changed(self, vm_id: str, revision: Revision) -> VM | None:
        """The VM when its revision is no longer `revision`, else None (GetVM, If-None-Match)."""
        response = await self._sender.read(
            get_vm.asyncio_detailed, vm_id, if_none_match=etag(revision)
        )
        return None if response.status_code == 304 else parsed(response, VM)

    def events(self, vm_id: str, *, page_size: int = 100) -> AsyncIterator[VMEvent]:
        """The VM's change history, newest first, fetching pages as they are needed."""

        async def fetch(token: str | Unset) -> VMEventPage:
            response = await self._sender.read(
                list_vm_events.asyncio_detailed, vm_id, page_size=page_size, page_token=token
            )
            return parsed(response, VMEventPage)

        return pages(fetch)

    def list(
        self,
        *,
        sort: str | SortOrder | None = None,
        page_size: int = 100,
        show_deleted: bool = False,
        **filters: Unpack[Filters],
    ) -> AsyncIterator[VM]:
        """Every VM matching `filters` in `sort` order, fetching pages only as they are needed;
        `show_deleted=True` includes deleted VMs."""

        async def fetch(token: str | Unset) -> VMPage:
            response = await self._sender.read(
                list_vms.asyncio_detailed,
                sort=UNSET if sort is None else SortOrder(sort),
                page_size=page_size,
                page_token=token,
                show_deleted=show_deleted,
                **query(filters),
            )
            return parsed(response, VMPage)

        return pages(fetch)

    async def all(
        self, *, show_deleted: bool = False, **filters: Unpack[Filters]
    ) -> builtins.list[VM]:
        """Every VM matching `filters`, newest first, as a list (deleted ones too if asked)."""
        return [vm async for vm in self.list(show_deleted=show_deleted, **filters)]

    async def count(self, *, show_deleted: bool = False, **filters: Unpack[Filters]) -> int:
        """How many VMs match `filters` (deleted ones too with `show_deleted=True`): exact
        without filters and up to the server's bound (1,000), past it that bound, a lower bound
        (ListVMs' total_size_exact is false then)."""
        response = await self._sender.read(
            list_vms.asyncio_detailed,
            page_size=1,
            include_total=True,
            show_deleted=show_deleted,
            **query(filters),
        )
        total = parsed(response, VMPage).total_size
        if isinstance(total, Unset):
            raise TypeError("the server did not return total_size")
        return total

    def watch(
        self,
        *,
        resume_token: str | None = None,
        bookmarks: bool = False,
        **filters: Unpack[Filters],
    ) -> AsyncIterator[WatchEvent]:
        """Every change to VMs matching `filters` after `resume_token` (a ListVMs watch_token or
        an event's resume_token; None: from now), reconnecting on its own; 410 -> WatchExpired."""
        return watch_events(self._sender.http, filters, resume_token, bookmarks=bookmarks)

    def informer(self, **filters: Unpack[Filters]) -> Informer:
        """A live local cache of the VMs matching `filters`: `await start()`, read `.vms`, and
        `async for event in informer` to follow each change."""

        async def fetch(token: str | None) -> VMPage:
            response = await self._sender.read(
                list_vms.asyncio_detailed, page_size=500,
                page_token=UNSET if token is None else token, **query(filters),
            )  # fmt: skip
            return parsed(response, VMPage)

        return Informer(fetch, self._sender.http, filters)
