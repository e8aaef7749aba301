"""VMInventory: a thin hand-written async facade over the generated client.

It pages lazily, retries with exponential backoff (connection errors, 503, 429 honouring
`Retry-After`), and raises the typed exceptions of `problems` for problem+json answers.
"""

from __future__ import annotations

import asyncio
import builtins
import functools
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any, Self, TypedDict, TypeVar, Unpack

import httpx

from .api.vms import create_vm, delete_vm, get_vm, list_v_ms, replace_vm, update_vm
from .client import AuthenticatedClient
from .models import (
    VM,
    InitialStatus,
    SortOrder,
    VMCreate,
    VMCreateLabels,
    VMPage,
    VMPatch,
    VMPatchLabelsType0,
    VMReplace,
    VMReplaceLabels,
    VMStatus,
)
from .problems import ConnectionFailed, error_from
from .types import UNSET, Response, Unset

T = TypeVar("T")

# Failures before the request reached the server: always safe to send again.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# Failures after it may have been processed: resent only when that cannot apply it twice.
MAYBE_SENT = (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError, httpx.ReadTimeout)
RETRY_STATUSES = frozenset({429, 503})


@dataclass(frozen=True)
class RetryPolicy:
    """How many attempts, and how long to wait between them."""

    attempts: int = 4
    backoff: float = 0.25
    max_delay: float = 30.0
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    def delay(self, attempt: int, retry_after: float | None) -> float | None:
        """Wait before attempt `attempt + 1`: at least Retry-After; None when that is too long."""
        backoff = min(self.backoff * 2.0 ** (attempt - 1), self.max_delay)
        backoff *= random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not security
        if retry_after is None:
            return backoff
        return None if retry_after > self.max_delay else max(retry_after, 0.0)


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
        """Send with retries; return a 2xx answer or raise the matching `APIError`."""
        attempt = 0
        while True:
            attempt += 1
            delay: float | None
            try:
                response = await send()
            except (*NOT_SENT, *MAYBE_SENT) as exc:
                if (not resend_safe and isinstance(exc, MAYBE_SENT)) or (
                    attempt >= self.retry.attempts
                ):
                    raise ConnectionFailed(f"{type(exc).__name__}: {exc}") from exc
                delay = self.retry.delay(attempt, None) or 0.0
            else:
                status = int(response.status_code)
                if status < 400:
                    return response
                error = error_from(status, response.content, response.headers, response.parsed)
                if status not in RETRY_STATUSES or attempt >= self.retry.attempts:
                    raise error
                delay = self.retry.delay(attempt, error.retry_after)
                if delay is None:
                    raise error
            await self.retry.sleep(delay)


def _parsed(response: Response[Any], kind: type[T]) -> T:
    """The generated model of a 2xx answer."""
    if not isinstance(response.parsed, kind):
        raise TypeError(f"expected {kind.__name__}, got {type(response.parsed).__name__}")
    return response.parsed


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
    ) -> VM:
        """Register a VM (CreateVM)."""
        body = VMCreate(
            name=name,
            os=os,
            cpu_cores=cpu_cores,
            memory_mib=memory_mib,
            storage_gib=storage_gib,
            status=InitialStatus(status),
            ip_address=ip_address,
            labels=_labels(VMCreateLabels, labels or {}),
            description=description,
        )
        send = functools.partial(create_vm.asyncio_detailed, client=self._inv.client, body=body)
        return _parsed(await self._inv.call(send, resend_safe=False), VM)

    async def get(self, vm_id: str) -> VM:
        """One VM (GetVM)."""
        send = functools.partial(get_vm.asyncio_detailed, vm_id, client=self._inv.client)
        return _parsed(await self._inv.call(send, resend_safe=True), VM)

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
    ) -> VM:
        """Replace every writable field (ReplaceVM); omitted optional ones return to defaults."""
        body = VMReplace(
            name=name,
            os=os,
            cpu_cores=cpu_cores,
            memory_mib=memory_mib,
            storage_gib=storage_gib,
            status=UNSET if isinstance(status, Unset) else VMStatus(status),
            ip_address=ip_address,
            labels=_labels(VMReplaceLabels, labels or {}),
            description=description,
        )
        send = functools.partial(
            replace_vm.asyncio_detailed, vm_id, client=self._inv.client, body=body
        )
        return _parsed(await self._inv.call(send, resend_safe=True), VM)

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
    ) -> VM:
        """Change only the given fields (UpdateVM): `ip_address=None` clears it, a None label
        value removes that label."""
        body = VMPatch(
            name=name,
            status=UNSET if isinstance(status, Unset) else VMStatus(status),
            os=os,
            cpu_cores=cpu_cores,
            memory_mib=memory_mib,
            storage_gib=storage_gib,
            ip_address=ip_address,
            labels=UNSET if isinstance(labels, Unset) else _labels(VMPatchLabelsType0, labels),
            description=description,
        )
        send = functools.partial(
            update_vm.asyncio_detailed, vm_id, client=self._inv.client, body=body
        )
        return _parsed(await self._inv.call(send, resend_safe=True), VM)

    async def delete(self, vm_id: str, *, force: bool = False) -> None:
        """Delete a VM (DeleteVM); `force=True` also deletes a running or suspended one."""
        send = functools.partial(
            delete_vm.asyncio_detailed, vm_id, client=self._inv.client, force=force
        )
        await self._inv.call(send, resend_safe=True)

    async def list(
        self,
        *,
        sort: str | SortOrder | None = None,
        page_size: int = 100,
        **filters: Unpack[Filters],
    ) -> AsyncIterator[VM]:
        """Every VM matching `filters` in `sort` order, fetching pages only as they are needed."""
        token: str | Unset = UNSET
        while True:
            send = functools.partial(
                list_v_ms.asyncio_detailed,
                client=self._inv.client,
                sort=UNSET if sort is None else SortOrder(sort),
                page_size=page_size,
                page_token=token,
                **_query(filters),
            )
            page = _parsed(await self._inv.call(send, resend_safe=True), VMPage)
            for vm in page.items:
                yield vm
            if not page.next_page_token:
                return
            token = page.next_page_token

    async def all(self, **filters: Unpack[Filters]) -> builtins.list[VM]:
        """Every VM matching `filters`, newest first, as a list."""
        return [vm async for vm in self.list(**filters)]

    async def count(self, **filters: Unpack[Filters]) -> int:
        """How many VMs match `filters`."""
        send = functools.partial(
            list_v_ms.asyncio_detailed,
            client=self._inv.client,
            page_size=1,
            include_total=True,
            **_query(filters),
        )
        total = _parsed(await self._inv.call(send, resend_safe=True), VMPage).total_size
        if isinstance(total, Unset):
            raise TypeError("the server did not return total_size")
        return total


class Filters(TypedDict, total=False):
    """ListVMs filters; all given ones must hold (see the API docs)."""

    status: Sequence[str | VMStatus]
    os: Sequence[str]
    name_prefix: str
    label: Sequence[str]  # "key=value", "key" or "!key"
    cpu_cores_min: int
    cpu_cores_max: int
    memory_mib_min: int
    memory_mib_max: int
    storage_gib_min: int
    storage_gib_max: int
    created_after: datetime
    created_before: datetime
    ip_address: str
    ip_in: str  # a CIDR


def _query(filters: Filters) -> dict[str, Any]:
    """Filters as the generated ListVMs function takes them."""
    query: dict[str, Any] = dict(filters)
    if "status" in filters:
        query["status"] = [VMStatus(s) for s in filters["status"]]
    for many in ("os", "label"):
        if many in query:
            query[many] = builtins.list(query[many])
    return query


L = TypeVar("L", VMCreateLabels, VMReplaceLabels, VMPatchLabelsType0)


def _labels(kind: type[L], labels: Mapping[str, Any]) -> L:
    """A generated labels model holding `labels`."""
    model = kind()
    model.additional_properties = dict(labels)
    return model
