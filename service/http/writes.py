"""The shared body of the conditional write handlers (ReplaceVM, UpdateVM, DeleteVM, RestoreVM,
UpsertVM): If-Match, the write context, Idempotency-Key."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from litestar import Request, Response

from service.domain.events import WriteContext
from service.domain.idempotency import IdempotencyService
from service.domain.vms import IfMatch as Revisions
from service.http.idempotency import idempotent
from service.http.preconditions import if_match as parse_if_match
from service.http.preconditions import write_context

T = TypeVar("T")


async def conditional_write(
    request: Request[Any, Any, Any],
    if_match: str | None,
    require_if_match: bool,
    idempotency_key: str | None,
    idempotency: IdempotencyService,
    body: Any,
    write: Callable[[Revisions, WriteContext], Awaitable[T]],
    render: Callable[[T], Response[Any]],
) -> Response[Any]:
    """`idempotent` over `write(expected, ctx)`: what If-Match accepts, parsed first (its 400 or
    428 stores nothing under the key), and who writes."""
    expected = parse_if_match(if_match, require_if_match)
    ctx = write_context(request)
    return await idempotent(
        request, idempotency_key, idempotency, ctx.actor, body,
        lambda: write(expected, ctx), render,
    )  # fmt: skip
