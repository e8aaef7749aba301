"""Idempotency-Key over HTTP: parse the header, fingerprint the request, hold the key for a
write handler's block (Claimed), render, store and replay responses through the domain's
IdempotencyService."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from types import TracebackType
from typing import Any, Self

import msgspec
from litestar import Request, Response

from service.domain.errors import (
    DomainError,
    IdempotencyKeyInFlight,
    IdempotencyKeyReused,
    ValidationFailed,
    WriteContention,
    invalid,
)
from service.domain.events import WriteContext
from service.domain.idempotency import (
    HEADER,
    MAX_KEY_LENGTH,
    REPLAYED_HEADER,
    Claim,
    IdempotencyService,
    StoredResponse,
)
from service.http.problems import domain_problem, status_of

_REPLAYED_HEADERS = ("content-type", "location", "etag")
_NOT_STORED = (ValidationFailed, WriteContention, IdempotencyKeyInFlight)


def parse_key(header: str) -> str:
    """The key: 1-255 visible ASCII characters, bare or as a quoted structured-field string."""
    key = header.strip()
    if len(key) >= 2 and key[0] == key[-1] == '"':
        key = key[1:-1]
    if not 1 <= len(key) <= MAX_KEY_LENGTH or not all(" " <= c <= "~" for c in key):
        raise invalid(HEADER, f"must be 1 to {MAX_KEY_LENGTH} visible ASCII characters")
    return key


def fingerprint(request: Request[Any, Any, Any], body: Any) -> str:
    """A digest of what makes two requests the same: method, path, query, If-Match and body."""
    digest = hashlib.sha256()
    query = sorted(request.query_params.multi_items())
    for part in (
        request.method,
        request.url.path.rstrip("/"),
        msgspec.json.encode(query),
        request.headers.get("if-match", ""),
    ):
        digest.update(part.encode() if isinstance(part, str) else part)
        digest.update(b"\0")
    digest.update(msgspec.json.encode(msgspec.to_builtins(body), order="sorted"))
    return digest.hexdigest()


def _stored(response: Response[Any]) -> StoredResponse:
    content = response.content
    body = content if isinstance(content, bytes) else msgspec.json.encode(content)
    headers = {k.lower(): str(v) for k, v in response.headers.items()}
    headers["content-type"] = str(response.media_type or "application/json")
    kept = {k: v for k, v in headers.items() if k in _REPLAYED_HEADERS}
    return StoredResponse(status=response.status_code or 200, body=body, headers=kept)


def _stored_as_answer(exc: DomainError) -> bool:
    """Whether a retry would meet this error again (unlike invalid input, contention, a 5xx)."""
    return not isinstance(exc, _NOT_STORED) and status_of(type(exc)) < 500


def replayed(stored: StoredResponse) -> Response[Any]:
    """The stored response to an earlier request with the key, marked Idempotent-Replayed."""
    headers = {k: v for k, v in stored.headers.items() if k != "content-type"}
    return Response(
        stored.body,
        status_code=stored.status,
        media_type=stored.headers.get("content-type", "application/json"),
        headers={**headers, REPLAYED_HEADER: "true"},
    )


Render = Callable[[Any], Response[Any]]


class Claimed:
    """A write request's Idempotency-Key (if any) held for an `async with` block: `replay` is
    the stored response of an earlier request with the key, else `ctx` carries the claim into
    every write of the block, each recording `committed(what it commits)` in its transaction
    (without `committed`, the response is stored after the block's writes). `respond` stores
    the block's response; a domain error ending the block is stored as its problem (but for one
    a retry may not meet: invalid input, contention, 5xx); any other end frees the key.
    """

    def __init__(
        self,
        request: Request[Any, Any, Any],
        service: IdempotencyService,
        header: str | None,
        ctx: WriteContext,
        body: Any,
        committed: Render | None,
    ) -> None:
        """Hold `header`'s key (parsed on entering) for `request` with `body`."""
        self.request = request
        self.service = service
        self.header = header
        self.ctx = ctx
        self.body = body
        self.committed = committed
        self.replay: Response[Any] | None = None
        self._holding: AbstractAsyncContextManager[Claim] | None = None
        self._claim: Claim | None = None

    async def __aenter__(self) -> Self:
        """Claim the key (400 for a malformed one), or find the response to replay."""
        if self.header is None:
            return self
        key = parse_key(self.header)
        committed = self.committed
        render = None if committed is None else lambda result: _stored(committed(result))
        digest = fingerprint(self.request, self.body)
        self._holding = self.service.holding(self.ctx.actor, key, digest, render)
        claim = self._claim = await self._holding.__aenter__()
        if claim.replay is not None:
            self.replay = replayed(claim.replay)
        else:
            self.ctx = dataclasses.replace(self.ctx, claim=claim)
        return self

    async def respond(self, response: Response[Any]) -> Response[Any]:
        """`response`, stored under the key first."""
        if self._claim is not None:
            await self.service.finish(self._claim, _stored(response))
        return response

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Store a domain error's problem as the response; free the key after any other end."""
        if self._holding is None or self._claim is None:
            return
        try:
            if isinstance(exc, DomainError) and _stored_as_answer(exc) and not self._claim.finished:
                problem = domain_problem(exc).to_response(self.request)
                await self.service.finish(self._claim, _stored(problem))
        finally:
            await self._holding.__aexit__(exc_type, exc, traceback)


IDEMPOTENCY_ERRORS = (IdempotencyKeyReused, IdempotencyKeyInFlight)
