"""Idempotency-Key (IETF httpapi draft, as Stripe does it): the first response to a key is stored
with a fingerprint of its request and replayed for every retry of that same request.

A request claims its key with a lease (a random id). A write records its response in its own
transaction, fenced on that lease (`record_in_transaction`): the change and its recorded response
commit together or not at all, and a request whose lease was taken over cannot commit. So a retry
may take over an abandoned claim at once (no VM is lost or written twice): a claim of this process
whose request has ended, or any claim older than LEASE.
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

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
# A claim older than this, never completed, counts as abandoned even when another process made
# it; fencing keeps a slower holder from committing after it was taken over.
LEASE = timedelta(seconds=15)
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
    lease: str = ""


class KeyStore(Protocol):
    """Where keys live (IdempotencyRepository); (scope, key) is unique."""

    async def claim(
        self,
        scope: str,
        key: str,
        fingerprint: str,
        lease: str,
        now: datetime,
        expired_before: datetime,
    ) -> KeyRecord | None:
        """Claim the key under `lease` (None), or return the live record that holds it already."""

    async def take_over(
        self, scope: str, key: str, locked_at: datetime, lease: str, now: datetime
    ) -> bool:
        """Re-claim, under `lease`, an unfinished key still locked at `locked_at`."""

    async def complete(
        self, scope: str, key: str, lease: str, response: StoredResponse, session: Any = None
    ) -> bool:
        """Store the response if the key is still unfinished under `lease` (in `session`)."""

    async def release(self, scope: str, key: str, lease: str) -> None:
        """Forget the claim if still unfinished under `lease` (a retry may fix the failure)."""


Operation = Callable[[], Awaitable[StoredResponse]]
Render = Callable[[Any], StoredResponse]
T = TypeVar("T")


@dataclass(slots=True)
class _Claim:
    """The key a running request holds, for its write's transaction to record the response in."""

    store: KeyStore
    scope: str
    key: str
    lease: str
    render: Render
    recorded: StoredResponse | None = None  # what the latest transaction attempt recorded


_CLAIM: ContextVar[_Claim | None] = ContextVar("idempotency_claim", default=None)


def recording() -> bool:
    """Whether the running request holds an Idempotency-Key its write must record."""
    return _CLAIM.get() is not None


async def record_in_transaction(session: Any, result: Any) -> None:
    """Inside a write's transaction: store the response to `result` under the request's key.

    Raises IdempotencyKeyInFlight (aborting the transaction) when another request took the key
    over, so a key's write commits at most once.
    """
    claim = _CLAIM.get()
    if claim is None:
        return
    response = claim.render(result)
    if not await claim.store.complete(claim.scope, claim.key, claim.lease, response, session):
        raise IdempotencyKeyInFlight(
            f"the {HEADER} {claim.key!r} was taken over by a retry of this request; retry"
        )
    claim.recorded = response


class IdempotencyService:
    """Runs an operation at most once per (scope, key) and replays its stored response."""

    def __init__(self, store: KeyStore, clock: Callable[[], datetime] = utcnow) -> None:
        """Keep keys in `store`; `clock` gives timestamps."""
        self.store = store
        self.clock = clock
        self.owner = secrets.token_hex(6)  # names this service's leases
        self._running: set[str] = set()

    async def run(
        self,
        scope: str,
        key: str,
        fingerprint: str,
        operation: Operation,
        render: Render | None = None,
    ) -> tuple[StoredResponse, bool]:
        """The operation's response and False, or the stored one and True for a retry.

        `render` turns what a write commits into its response, stored in the write's
        transaction (record_in_transaction); without it the response is stored afterwards.
        """
        lease = f"{self.owner}.{secrets.token_hex(6)}"
        self._running.add(lease)
        try:
            return await self._run(scope, key, fingerprint, lease, operation, render)
        finally:
            self._running.discard(lease)

    def _abandoned(self, record: KeyRecord, now: datetime) -> bool:
        """A claim whose request ended (in this process), or that outlived its lease."""
        ours = record.lease.startswith(f"{self.owner}.")
        return (ours and record.lease not in self._running) or record.locked_at <= now - LEASE

    async def _run(
        self,
        scope: str,
        key: str,
        fingerprint: str,
        lease: str,
        operation: Operation,
        render: Render | None,
    ) -> tuple[StoredResponse, bool]:
        now = self.clock()
        record = await self.store.claim(scope, key, fingerprint, lease, now, now - TTL)
        if record is not None:
            if record.fingerprint != fingerprint:
                raise IdempotencyKeyReused(
                    f"the {HEADER} {key!r} was already used for a different request"
                )
            if record.response is not None:
                return record.response, True
            if not self._abandoned(record, now) or not await self.store.take_over(
                scope, key, record.locked_at, lease, now
            ):
                raise IdempotencyKeyInFlight(
                    f"a request with the {HEADER} {key!r} is still being processed; retry shortly"
                )
        claim = None if render is None else _Claim(self.store, scope, key, lease, render)
        token = _CLAIM.set(claim)
        try:
            response = await operation()
        except BaseException:
            # Free the key for a retry; should that fail too, the retry takes the claim over.
            with contextlib.suppress(Exception):
                await self.store.release(scope, key, lease)
            raise
        finally:
            _CLAIM.reset(token)
        if claim is not None and claim.recorded == response:
            # Committed with the write. (An attempt that was rolled back, the request then
            # answering otherwise, e.g. 412, recorded nothing that lasted: store the answer.)
            return response, False
        if response.status >= 500:
            await self.store.release(scope, key, lease)
        else:
            await self.store.complete(scope, key, lease, response)
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
    write: Callable[[], Awaitable[T]],
    render: Callable[[T], Response[Any]],
    in_transaction: bool = True,
) -> Response[Any]:
    """Answer `render(await write())` under the Idempotency-Key `header` (if any); replay a
    retry's response. The repository stores `render` of what it commits in the same transaction
    (unless not `in_transaction`, for a request of several writes: stored after the last one).
    """
    if header is None:
        return render(await write())
    key = parse_key(header)
    first: list[Response[Any]] = []

    async def operation() -> StoredResponse:
        try:
            response = render(await write())
        except DomainError as exc:
            if isinstance(exc, _NOT_STORED) or status_of(type(exc)) >= 500:
                raise
            response = domain_problem(exc).to_response(request)
        first.append(response)
        return _stored(response)

    def stored_render(result: Any) -> StoredResponse:
        return _stored(render(result))

    stored, replayed = await service.run(
        scope, key, fingerprint(request, body), operation, stored_render if in_transaction else None
    )
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
