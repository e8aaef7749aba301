"""VMInventory: a thin hand-written async facade over the generated client.

It pages lazily, retries with exponential backoff (connection errors, 503, 429 honouring
`Retry-After`), and raises the typed exceptions of `problems` for problem+json answers.
"""

from __future__ import annotations

import builtins
import functools
import itertools
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from http import HTTPStatus
from types import TracebackType
from typing import Any, Self, Unpack

import httpx

from .api.vms import (
    batch_v_ms,
    create_vm,
    delete_vm,
    get_vm,
    list_v_ms,
    list_vm_events,
    replace_vm,
    restore_vm,
    update_vm,
    upsert_vm,
)
from .arguments import Filters, Revision, etag, labels_model, pages, parsed, query
from .client import AuthenticatedClient
from .models import (
    VM,
    BatchItemResult,
    BatchRequest,
    BatchResults,
    InitialStatus,
    SortOrder,
    VMCreate,
    VMCreateLabels,
    VMEvent,
    VMEventPage,
    VMPage,
    VMPatch,
    VMPatchLabelsType0,
    VMReplace,
    VMReplaceLabels,
    VMStatus,
)
from .retries import RetryPolicy, send_with_retries
from .types import UNSET, Response, Unset
from .watching import Informer, WatchEvent, watch_events


class VMInventory:
    """`async with VMInventory(base_url, token=...) as inv:` then use `inv.vms`."""

    def __init__(
        self,
        base_url: str,
        *,
        token: str,
        timeout: float = 10.0,
        retry: RetryPolicy | None = None,
        httpx_args: Mapping[str, Any] | None = None,
    ) -> None:
        """Talk to the API at `base_url` with an API key (`token`, sent as a Bearer token)."""
        self.client = AuthenticatedClient(
            base_url=base_url,
            token=token,
            timeout=httpx.Timeout(timeout),
            httpx_args=dict(httpx_args or {}),
        )
        self.retry = retry or RetryPolicy()
        self.vms = VMs(self)

    async def __aenter__(self) -> Self:
        """Open the connection pool."""
        await self.client.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the connection pool."""
        await self.client.__aexit__(exc_type, exc, tb)

    async def call(
        self, send: Callable[[], Awaitable[Response[Any]]], *, resend_safe: bool
    ) -> Response[Any]:
        """Send with retries (see `RetryPolicy`); return a 2xx answer or raise an `APIError`."""
        return await send_with_retries(send, self.retry, resend_safe=resend_safe)


class VMs:
    """The /api/v1/vms operations."""

    def __init__(self, inventory: VMInventory) -> None:
        """Bind to a `VMInventory`."""
        self._inv = inventory

    async def create(
        self,
        *,
        name: str,
        os: str,
        cpu_cores: int,
        memory_mib: int,
        storage_gib: int,
        status: str | InitialStatus = InitialStatus.PROVISIONING,
        ip_address: str | None = None,
        labels: Mapping[str, str] | None = None,
        description: str = "",
        idempotency_key: str | None = None,
    ) -> VM:
        """Register a VM (CreateVM); every attempt carries the same Idempotency-Key."""
        body = VMCreate(
            name=name,
            os=os,
            cpu_cores=cpu_cores,
            memory_mib=memory_mib,
            storage_gib=storage_gib,
            status=InitialStatus(status),
            ip_address=ip_address,
            labels=labels_model(VMCreateLabels, labels or {}),
            description=description,
        )
        return await self._write(create_vm.asyncio_detailed, idempotency_key, body=body)

    async def get(self, vm_id: str, *, show_deleted: bool = False) -> VM:
        """One VM (GetVM); `show_deleted=True` also finds a deleted one (with `deleted_at` and
        `purge_at`)."""
        send = functools.partial(
            get_vm.asyncio_detailed, vm_id, client=self._inv.client, show_deleted=show_deleted
        )
        return parsed(await self._inv.call(send, resend_safe=True), VM)

    async def get_if_changed(self, vm_id: str, revision: Revision) -> VM | None:
        """The VM when its revision is no longer `revision`, else None (GetVM, If-None-Match)."""
        send = functools.partial(
            get_vm.asyncio_detailed, vm_id, client=self._inv.client, if_none_match=etag(revision)
        )
        response = await self._inv.call(send, resend_safe=True)
        return None if response.status_code == 304 else parsed(response, VM)

    async def replace(
        self,
        vm_id: str,
        *,
        name: str,
        os: str,
        cpu_cores: int,
        memory_mib: int,
        storage_gib: int,
        status: str | VMStatus | Unset = UNSET,
        ip_address: str | None = None,
        labels: Mapping[str, str] | None = None,
        description: str = "",
        if_match: Revision | None = None,
        idempotency_key: str | None = None,
    ) -> VM:
        """Replace every writable field (ReplaceVM); omitted optional ones return to defaults.

        With `if_match`, only while the VM is still at that revision (else PreconditionFailed).
        """
        body = VMReplace(
            name=name,
            os=os,
            cpu_cores=cpu_cores,
            memory_mib=memory_mib,
            storage_gib=storage_gib,
            status=UNSET if isinstance(status, Unset) else VMStatus(status),
            ip_address=ip_address,
            labels=labels_model(VMReplaceLabels, labels or {}),
            description=description,
        )
        return await self._write(
            replace_vm.asyncio_detailed, idempotency_key, vm_id, body=body, if_match=etag(if_match)
        )

    async def update(
        self,
        vm_id: str,
        *,
        name: str | Unset = UNSET,
        status: str | VMStatus | Unset = UNSET,
        os: str | Unset = UNSET,
        cpu_cores: int | Unset = UNSET,
        memory_mib: int | Unset = UNSET,
        storage_gib: int | Unset = UNSET,
        ip_address: str | Unset | None = UNSET,
        labels: Mapping[str, str | None] | Unset = UNSET,
        description: str | Unset = UNSET,
        if_match: Revision | None = None,
        idempotency_key: str | None = None,
    ) -> VM:
        """Change only the given fields (UpdateVM); `ip_address=None` clears it, a None label
        value removes that label; `if_match` as for `replace`."""
        body = VMPatch(
            name=name,
            status=UNSET if isinstance(status, Unset) else VMStatus(status),
            os=os,
            cpu_cores=cpu_cores,
            memory_mib=memory_mib,
            storage_gib=storage_gib,
            ip_address=ip_address,
            labels=UNSET if isinstance(labels, Unset) else labels_model(VMPatchLabelsType0, labels),
            description=description,
        )
        return await self._write(
            update_vm.asyncio_detailed, idempotency_key, vm_id, body=body, if_match=etag(if_match)
        )

    async def delete(
        self,
        vm_id: str,
        *,
        force: bool = False,
        purge: bool = False,
        if_match: Revision | None = None,
        idempotency_key: str | None = None,
    ) -> None:
        """Delete a VM (DeleteVM), restorable until its `purge_at`; `force=True` also deletes a
        running or suspended one. `purge=True` (an admin key) removes it at once, live or
        deleted."""
        send = functools.partial(
            delete_vm.asyncio_detailed,
            vm_id,
            client=self._inv.client,
            force=force,
            purge=purge,
            if_match=etag(if_match),
            idempotency_key=idempotency_key or str(uuid.uuid4()),
        )
        await self._inv.call(send, resend_safe=True)

    async def restore(
        self, vm_id: str, *, if_match: Revision | None = None, idempotency_key: str | None = None
    ) -> VM:
        """Make a deleted VM live again at a new revision (RestoreVM). NotDeleted when it is
        live; NameConflict (`holder_id`) when a live VM took its name; NotFound once purged."""
        return await self._write(
            restore_vm.asyncio_detailed, idempotency_key, vm_id, if_match=etag(if_match)
        )

    async def upsert(
        self,
        name: str,
        vm: Mapping[str, Any],
        *,
        if_match: Revision | None = None,
        create_only: bool = False,
        idempotency_key: str | None = None,
    ) -> VM:
        """Create or replace the VM named `name`, ignoring case (UpsertVM); `vm` is a ReplaceVM
        body (its name equal to `name` ignoring case). `create_only`: PreconditionFailed if it
        exists; `if_match`: only that revision of an existing VM."""
        return await self._write(
            upsert_vm.asyncio_detailed, idempotency_key, name, body=VMReplace.from_dict(dict(vm)),
            if_match=etag(if_match), if_none_match="*" if create_only else UNSET,
        )  # fmt: skip

    async def batch(
        self,
        operations: Sequence[Mapping[str, Any]],
        *,
        atomic: bool = False,
        idempotency_key: str | None = None,
    ) -> builtins.list[BatchItemResult]:
        """Up to 1000 writes in one request (BatchVMs): each a dict such as
        `{"op": "create", "vm": {...}}`; one result per operation, in order, each with the
        status and VM or problem its single operation would give. An `atomic` batch applies all
        or nothing: a failure raises Conflict / ValidationFailed (see its `results`)."""
        body = BatchRequest.from_dict(
            {"operations": [dict(o) for o in operations], "atomic": atomic}
        )
        send = functools.partial(
            batch_v_ms.asyncio_detailed, client=self._inv.client, body=body,
            idempotency_key=idempotency_key or str(uuid.uuid4()),
        )  # fmt: skip
        return parsed(await self._inv.call(send, resend_safe=True), BatchResults).results

    async def sync(
        self, vms: Iterable[Mapping[str, Any]], *, chunk_size: int = 500, attempts: int = 3
    ) -> AsyncIterator[BatchItemResult]:
        """Upsert every VM of `vms` (ReplaceVM bodies) by name, `chunk_size` per batch, yielding
        each one's result in input order (`index` counts from the first VM of `vms`).

        A batch is resent only with its Idempotency-Key (replayed, never applied twice); an item
        answered 409 contention or 503 is upserted again (an upsert can be repeated), up to
        `attempts` times in all.
        """
        position = 0
        iterator = iter(vms)
        while chunk := builtins.list(itertools.islice(iterator, chunk_size)):
            pending = {position + i: vm for i, vm in enumerate(chunk)}
            done: dict[int, BatchItemResult] = {}
            for attempt in range(1, attempts + 1):
                order = builtins.list(pending)
                results = await self.batch(
                    [
                        {"op": "upsert", "name": pending[i]["name"], "vm": dict(pending[i])}
                        for i in order
                    ]
                )
                for index, result in zip(order, results, strict=True):
                    result.index = index
                    done[index] = result
                    if attempt < attempts and _retryable(result):
                        continue
                    del pending[index]
                if not pending:
                    break
            for index in sorted(done):
                yield done[index]
            position += len(chunk)

    async def export(
        self, *, sort: str | SortOrder | None = None, **filters: Unpack[Filters]
    ) -> AsyncIterator[VM]:
        """Every VM matching `filters` (as `list`), streamed from one snapshot (ExportVMs).

        Only the request is retried, before the first VM arrives; a stream cut short raises.
        """
        params: dict[str, Any] = {k: _param(v) for k, v in query(filters).items()}
        if sort is not None:
            params["sort"] = SortOrder(sort).value
        http = self._inv.client.get_async_httpx_client()
        headers = {"Accept": "application/x-ndjson"}
        stream: list[httpx.Response] = []

        async def send() -> Response[Any]:
            request = http.build_request(
                "GET", "/api/v1/vms/export", params=params, headers=headers
            )
            answer = await http.send(request, stream=True)
            if answer.status_code >= 400:
                await answer.aread()
                await answer.aclose()
            else:
                stream.append(answer)
            return Response(
                status_code=HTTPStatus(answer.status_code),
                content=answer.content if answer.status_code >= 400 else b"",
                headers=answer.headers,
                parsed=None,
            )

        await self._inv.call(send, resend_safe=True)
        answer = stream[-1]
        try:
            async for line in answer.aiter_lines():
                if line:
                    yield VM.from_dict(json.loads(line))
        finally:
            await answer.aclose()

    async def _write(
        self,
        operation: Callable[..., Awaitable[Response[Any]]],
        key: str | None,
        *args: Any,
        **kwargs: Any,
    ) -> VM:
        """Send a write with an Idempotency-Key (generated unless given), reused by each retry."""
        send = functools.partial(
            operation, *args, client=self._inv.client, idempotency_key=key or str(uuid.uuid4()),
            **kwargs,
        )  # fmt: skip
        return parsed(await self._inv.call(send, resend_safe=True), VM)

    def events(self, vm_id: str, *, page_size: int = 100) -> AsyncIterator[VMEvent]:
        """The VM's change history, newest first, fetching pages as they are needed."""

        async def fetch(token: str | Unset) -> VMEventPage:
            send = functools.partial(
                list_vm_events.asyncio_detailed,
                vm_id,
                client=self._inv.client,
                page_size=page_size,
                page_token=token,
            )
            return parsed(await self._inv.call(send, resend_safe=True), VMEventPage)

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
            send = functools.partial(
                list_v_ms.asyncio_detailed,
                client=self._inv.client,
                sort=UNSET if sort is None else SortOrder(sort),
                page_size=page_size,
                page_token=token,
                show_deleted=show_deleted,
                **query(filters),
            )
            return parsed(await self._inv.call(send, resend_safe=True), VMPage)

        return pages(fetch)

    async def all(
        self, *, show_deleted: bool = False, **filters: Unpack[Filters]
    ) -> builtins.list[VM]:
        """Every VM matching `filters`, newest first, as a list (deleted ones too if asked)."""
        return [vm async for vm in self.list(show_deleted=show_deleted, **filters)]

    async def count(self, *, show_deleted: bool = False, **filters: Unpack[Filters]) -> int:
        """How many VMs match `filters` (deleted ones too with `show_deleted=True`)."""
        send = functools.partial(
            list_v_ms.asyncio_detailed,
            client=self._inv.client,
            page_size=1,
            include_total=True,
            show_deleted=show_deleted,
            **query(filters),
        )
        total = parsed(await self._inv.call(send, resend_safe=True), VMPage).total_size
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
        http = self._inv.client.get_async_httpx_client
        return watch_events(http, filters, resume_token, bookmarks=bookmarks)

    def informer(self, **filters: Unpack[Filters]) -> Informer:
        """A live local cache of the VMs matching `filters`: `await start()`, read `.vms`, and
        `async for event in informer` to follow each change."""

        async def fetch(token: str | None) -> VMPage:
            send = functools.partial(
                list_v_ms.asyncio_detailed, client=self._inv.client, page_size=500,
                page_token=UNSET if token is None else token, **query(filters),
            )  # fmt: skip
            return parsed(await self._inv.call(send, resend_safe=True), VMPage)

        return Informer(fetch, self._inv.client.get_async_httpx_client, filters)


def _retryable(result: BatchItemResult) -> bool:
    """An item answer that another upsert of the same VM may turn into a success."""
    problem = result.problem
    kind = problem.type_ if problem is not None and not isinstance(problem, Unset) else ""
    return result.status == 503 or (result.status == 409 and str(kind).endswith("/contention"))


def _param(value: Any) -> Any:
    """A filter value as a query parameter (httpx takes lists for repeated ones)."""
    if isinstance(value, builtins.list):
        return [_param(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value.value) if hasattr(value, "value") else value
