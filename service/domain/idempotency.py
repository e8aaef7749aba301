"""The Idempotency-Key use case (IETF httpapi draft, as Stripe does it): the first response to a
key is stored with a fingerprint of its request and replayed for every retry of that same request.

A request claims its key with a lease (a random id). A write records its response in its own
transaction, fenced on that lease (`record_in_transaction`): the change and its recorded response
commit together or not at all, and a request whose lease was taken over cannot commit. So a retry
may take over an abandoned claim at once (no VM is lost or written twice): a claim of this process
whose request has ended, or any claim older than LEASE. The HTTP side (header, fingerprint,
replay) is service.http.idempotency.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import msgspec

from service.domain.errors import IdempotencyKeyInFlight, IdempotencyKeyReused
from service.domain.rules import utcnow

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
TTL = timedelta(hours=24)  # the migration's TTL index removes keys this old
# A claim older than this, never completed, counts as abandoned even when another process made
# it; fencing keeps a slower holder from committing after it was taken over.
LEASE = timedelta(seconds=15)


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
