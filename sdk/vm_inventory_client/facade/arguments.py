"""How the facade's arguments and answers map onto the generated functions and models."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol, TypedDict, TypeVar

from ..models import VMCreateLabels, VMPatchLabelsType0, VMReplaceLabels, VMStatus
from ..types import UNSET, Response, Unset

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)
L = TypeVar("L", VMCreateLabels, VMReplaceLabels, VMPatchLabelsType0)
Revision = int | str  # a VM's revision, or an ETag as the server sent it


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


def query(filters: Filters) -> dict[str, Any]:
    """Filters as the generated ListVMs function takes them."""
    arguments: dict[str, Any] = dict(filters)
    if "status" in filters:
        arguments["status"] = [VMStatus(s) for s in filters["status"]]
    for many in ("os", "label"):
        if many in arguments:
            arguments[many] = list(arguments[many])
    return arguments


class Page(Protocol[T_co]):
    """A generated page model (VMPage, VMEventPage)."""

    @property
    def items(self) -> Sequence[T_co]:
        """This page's items."""

    @property
    def next_page_token(self) -> str | None:
        """The token of the next page; None on the last one."""


async def pages(fetch: Callable[[str | Unset], Awaitable[Page[T_co]]]) -> AsyncIterator[T_co]:
    """Every item of every page, fetching the next page only when the previous one is used up."""
    token: str | Unset = UNSET
    while True:
        page = await fetch(token)
        for item in page.items:
            yield item
        if not page.next_page_token:
            return
        token = page.next_page_token


def parsed(response: Response[Any], kind: type[T]) -> T:
    """The generated model of a 2xx answer."""
    if not isinstance(response.parsed, kind):
        raise TypeError(f"expected {kind.__name__}, got {type(response.parsed).__name__}")
    return response.parsed


def etag(revision: Revision | None) -> str | Unset:
    """An If-Match / If-None-Match value: a revision number becomes its quoted ETag."""
    if revision is None:
        return UNSET
    return f'"{revision}"' if isinstance(revision, int) else revision


def labels_model(kind: type[L], labels: Mapping[str, Any]) -> L:
    """A generated labels model holding `labels`."""
    model = kind()
    model.additional_properties = dict(labels)
    return model
