"""Idempotency-Key (IETF httpapi draft, as Stripe does it): the first response to a key is stored
with a fingerprint of its request and replayed for every retry of that same request."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, Protocol

import msgspec
from litestar import Request, Response

from service.errors import (
    DomainError,
    FieldError,
    IdempotencyKeyInFlight,
    IdempotencyKeyReused,
    ValidationFailed,
    WriteContention,
    domain_problem,
    status_of,
)
from service.rules import utcnow

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
TTL = timedelta(hours=24)  # the migration's TTL index removes keys this old
LEASE = timedelta(seconds=60)  # a claim older than this, never completed, was abandoned
_REPLAYED_HEADERS = ("content-type", "location", "etag")
_NOT_STORED = (ValidationFailed, WriteContention, IdempotencyKeyInFlight)


class StoredResponse(msgspec.Struct):
    """The first response to a key: what a retry gets back."""

    status: int
    body: bytes
    headers: dict[str, str]


class KeyRecord(msgspec.Struct):
    """A claimed key: its request's fingerprint and, once finished, its response."""

    fingerprint: str
    created_at: datetime
    locked_at: datetime
    response: StoredResponse | None = None


class KeyStore(Protocol):
    """Where keys live (IdempotencyRepository); (scope, key) is unique."""

    async def claim(
        self, scope: str, key: str, fingerprint: str, now: datetime, expired_before: datetime
    ) -> KeyRecord | None:
        """Claim the key (None), or return the live record that holds it already."""

    async def take_over(self, scope: str, key: str, locked_at: datetime, now: datetime) -> bool:
        """Re-claim an abandoned key still locked at `locked_at`; False if someone else did."""

    async def complete(self, scope: str, key: str, response: StoredResponse) -> None:
        """Store the response of a claimed key."""

    async def release(self, scope: str, key: str) -> None:
        """Forget an unfinished claim (the request failed in a way a retry may fix)."""


Operation = Callable[[], Awaitable[StoredResponse]]


class IdempotencyService:
    """Runs an operation at most once per (scope, key) and replays its stored response."""

    def __init__(self, store: KeyStore, clock: Callable[[], datetime] = utcnow) -> None:
        """Keep keys in `store`; `clock` gives timestamps."""
        self.store = store
        self.clock = clock

    async def run(
        self, scope: str, key: str, fingerprint: str, operation: Operation
    ) -> tuple[StoredResponse, bool]:
        """The operation's response and False, or the stored one and True for a retry."""
        now = self.clock()
        record = await self.store.claim(scope, key, fingerprint, now, now - TTL)
        if record is not None:
            if record.fingerprint != fingerprint:
                raise IdempotencyKeyReused(
                    f"the {HEADER} {key!r} was already used for a different request"
                )
            if record.response is not None:
                return record.response, True
            if record.locked_at > now - LEASE or not await self.store.take_over(
                scope, key, record.locked_at, now
            ):
                raise IdempotencyKeyInFlight(
                    f"a request with the {HEADER} {key!r} is still being processed; retry shortly"
                )
        try:
            response = await operation()
        except BaseException:
            # Free the key for a retry; should that fail too, its lease frees it later.
            with contextlib.suppress(Exception):
                await self.store.release(scope, key)
            raise
        if response.status >= 500:
            await self.store.release(scope, key)
        else:
            await self.store.complete(scope, key, response)
        return response, False


def parse_key(header: str) -> str:
    """The key: 1-255 visible ASCII characters, bare or as a quoted structured-field string."""
    key = header.strip()
    if len(key) >= 2 and key[0] == key[-1] == '"':
        key = key[1:-1]
    if not 1 <= len(key) <= MAX_KEY_LENGTH or not all(" " <= c <= "~" for c in key):
        message = f"must be 1 to {MAX_KEY_LENGTH} visible ASCII characters"
        raise ValidationFailed(f"{HEADER}: {message}", [FieldError(HEADER, message)])
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


async def idempotent(
    request: Request[Any, Any, Any],
    header: str | None,
    service: IdempotencyService,
    scope: str,
    body: Any,
    call: Callable[[], Awaitable[Response[Any]]],
) -> Response[Any]:
    """Run `call` under the Idempotency-Key `header` (if any); replay a retry's response."""
    if header is None:
        return await call()
    key = parse_key(header)
    first: list[Response[Any]] = []

    async def operation() -> StoredResponse:
        try:
            response = await call()
        except DomainError as exc:
            if isinstance(exc, _NOT_STORED) or status_of(type(exc)) >= 500:
                raise
            response = domain_problem(exc).to_response(request)
        first.append(response)
        return _stored(response)

    stored, replayed = await service.run(scope, key, fingerprint(request, body), operation)
    if not replayed:
        return first[0]
    headers = {k: v for k, v in stored.headers.items() if k != "content-type"}
    return Response(
        stored.body,
        status_code=stored.status,
        media_type=stored.headers.get("content-type", "application/json"),
        headers={**headers, REPLAYED_HEADER: "true"},
    )


IDEMPOTENCY_ERRORS = (IdempotencyKeyReused, IdempotencyKeyInFlight)
