"""The `write` dependency of every write handler: its If-Match, Idempotency-Key and write context.

A write handler reads as: claim, replay if the claim has one, call the service, respond:

    async with write.claim(data, committed=_with_etag) as claim:
        if claim.replay is not None:
            return claim.replay
        vm = await vm_service.replace_vm(vm_id, data, claim.expected, claim.ctx)
        return await claim.respond(_with_etag(vm))

`claim.ctx` (a WriteContext) carries the request's key claim into the service and so into each
write's transaction, which records `committed(what it commits)` under the key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from litestar import Request
from litestar.di import NamedDependency, Provide
from litestar.params import HeaderParameter

from service.domain.errors import FieldError, ValidationFailed
from service.domain.idempotency import IdempotencyService
from service.domain.revisions import IfMatch as Revisions
from service.http.controllers.params import AppSettings, Idempotency
from service.http.idempotency import Claimed, Render
from service.http.preconditions import (
    ANY,
    IdempotencyKey,
    IfMatch,
    parse_etags,
    write_context,
)
from service.http.preconditions import if_match as parse_if_match

Req = Request[Any, Any, Any]


class WriteClaim(Claimed):
    """Claimed, with the revisions If-Match accepts (`expected`; None: any)."""

    def __init__(self, expected: Revisions, *args: Any) -> None:
        """Hold the key as Claimed(*args) does, for a write expecting `expected`."""
        super().__init__(*args)
        self.expected = expected


@dataclass(frozen=True, slots=True)
class WriteRequest:
    """A write request's headers and context (the `write` dependency)."""

    request: Req
    idempotency: IdempotencyService
    idempotency_key: str | None
    if_match: str | None = None
    require_if_match: bool = False
    create_only: bool = False  # UpsertVM's If-None-Match: *

    def claim(self, body: Any, committed: Render | None = None) -> WriteClaim:
        """Hold the request's Idempotency-Key over the handler's block (see Claimed): `body` is
        fingerprinted with the request; `committed` renders what each write commits. If-Match
        is parsed first: its 400 or 428 stores nothing under the key."""
        expected = parse_if_match(self.if_match, self.require_if_match)
        ctx = write_context(self.request)
        return WriteClaim(
            expected, self.request, self.idempotency, self.idempotency_key, ctx, body, committed
        )


def keyed_write(
    request: Req, idempotency: Idempotency, idempotency_key: IdempotencyKey = None
) -> WriteRequest:
    """A write without preconditions (CreateVM, BatchVMs): its Idempotency-Key."""
    return WriteRequest(request, idempotency, idempotency_key)


def conditional_write(
    request: Req,
    idempotency: Idempotency,
    settings: AppSettings,
    if_match: IfMatch = None,
    idempotency_key: IdempotencyKey = None,
) -> WriteRequest:
    """A write of one VM by id (ReplaceVM, UpdateVM, DeleteVM, RestoreVM): If-Match too."""
    return WriteRequest(request, idempotency, idempotency_key, if_match, settings.require_if_match)


UpsertIfNoneMatch = Annotated[
    str | None,
    HeaderParameter(
        name="If-None-Match",
        description="* creates only: 412 when a VM has the name already",
    ),
]


def upsert_write(
    request: Req,
    idempotency: Idempotency,
    settings: AppSettings,
    if_match: IfMatch = None,
    if_none_match: UpsertIfNoneMatch = None,
    idempotency_key: IdempotencyKey = None,
) -> WriteRequest:
    """UpsertVM: If-Match needs the VM to exist; If-None-Match: * (only) needs it not to, and
    then If-Match is never required."""
    create_only = False
    if if_none_match is not None:
        if parse_etags(if_none_match, "If-None-Match") != ANY:
            message = "UpsertVM takes only *"
            raise ValidationFailed(
                f"If-None-Match: {message}", [FieldError("If-None-Match", message)]
            )
        create_only = True
    required = settings.require_if_match and not create_only
    return WriteRequest(request, idempotency, idempotency_key, if_match, required, create_only)


Write = NamedDependency[WriteRequest]
"""A write handler's `write` parameter, provided by one of these (its route's headers):"""
KEYED_WRITE = {"write": Provide(keyed_write, sync_to_thread=False)}
CONDITIONAL_WRITE = {"write": Provide(conditional_write, sync_to_thread=False)}
UPSERT_WRITE = {"write": Provide(upsert_write, sync_to_thread=False)}
