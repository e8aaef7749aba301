"""The Idempotency-Key use case (IETF httpapi draft, as Stripe does it): the first response to a
key is stored with a fingerprint of its request and replayed for every retry of that same request.

A request claims its key with a lease (a random id); the Claim travels in the request's
WriteContext. A write records its response in its own transaction, fenced on that lease
(`Claim.record`, which the repository calls with what it commits): the change and its recorded
response commit together or not at all, and a request whose lease was taken over cannot commit.
So a retry may take over an abandoned claim at once (no VM is lost or written twice): a claim of
this process whose request has ended, or any claim older than LEASE. The HTTP side (header,
fingerprint, rendering, replay) is service.http.idempotency.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator, Callable
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


Render = Callable[[Any], StoredResponse]
"""The response to what a write committed (a VM, or None for a delete), stored with it."""


@dataclass(slots=True)
class Claim:
    """An Idempotency-Key a request holds (or the stored response it replays). It travels in
    the write's WriteContext: each write records its response in its own transaction (`record`).
    """

    store: KeyStore
    scope: str
    key: str
    lease: str
    committed: Render | None  # None: the response is stored after the request's writes
    replay: StoredResponse | None = None  # the stored response to an earlier request
    recorded: StoredResponse | None = None  # what the latest transaction attempt recorded
    finished: bool = False

    async def record(self, session: Any, result: Any) -> None:
        """Inside a write's transaction (`session`): store the response to `result` under the key.

        Raises IdempotencyKeyInFlight (aborting the transaction) when another request took the
        key over, so a key's write commits at most once.
        """
        if self.committed is None:
            return
        response = self.committed(result)
        if not await self.store.complete(self.scope, self.key, self.lease, response, session):
            raise IdempotencyKeyInFlight(
                f"the {HEADER} {self.key!r} was taken over by a retry of this request; retry"
            )
        self.recorded = response


class IdempotencyService:
    """Runs a request at most once per (scope, key) and replays its stored response."""

    def __init__(self, store: KeyStore, clock: Callable[[], datetime] = utcnow) -> None:
        """Keep keys in `store`; `clock` gives timestamps."""
        self.store = store
        self.clock = clock
        self.owner = secrets.token_hex(6)  # names this service's leases
        self._running: set[str] = set()

    @contextlib.asynccontextmanager
    async def holding(
        self, scope: str, key: str, fingerprint: str, committed: Render | None = None
    ) -> AsyncIterator[Claim]:
        """Claim the key for the block: a Claim with `replay` set for a retry of a finished
        request; else one the block's writes record in (`committed` renders what they commit)
        and `finish` completes. Should the block fail unfinished, the key is freed for a retry.
        """
        lease = f"{self.owner}.{secrets.token_hex(6)}"
        self._running.add(lease)
        try:
            claim = Claim(self.store, scope, key, lease, committed)
            claim.replay = await self._claim(scope, key, fingerprint, lease)
            if claim.replay is not None:
                yield claim
                return
            try:
                yield claim
            except BaseException:
                if not claim.finished:
                    # Free the key for a retry; should that fail too, the retry takes it over.
                    with contextlib.suppress(Exception):
                        await self.store.release(scope, key, lease)
                raise
        finally:
            self._running.discard(lease)

    async def finish(self, claim: Claim, response: StoredResponse) -> None:
        """Store the request's response under its key, unless its write's transaction did."""
        claim.finished = True
        if claim.recorded == response:
            # Committed with the write. (An attempt that was rolled back, the request then
            # answering otherwise, e.g. 412, recorded nothing that lasted: store the answer.)
            return
        if response.status >= 500:
            await self.store.release(claim.scope, claim.key, claim.lease)
        else:
            await self.store.complete(claim.scope, claim.key, claim.lease, response)

    def _abandoned(self, record: KeyRecord, now: datetime) -> bool:
        """A claim whose request ended (in this process), or that outlived its lease."""
        ours = record.lease.startswith(f"{self.owner}.")
        return (ours and record.lease not in self._running) or record.locked_at <= now - LEASE

    async def _claim(
        self, scope: str, key: str, fingerprint: str, lease: str
    ) -> StoredResponse | None:
        """Hold the key under `lease` (None), or the stored response of a finished request."""
        now = self.clock()
        record = await self.store.claim(scope, key, fingerprint, lease, now, now - TTL)
        if record is None:
            return None
        if record.fingerprint != fingerprint:
            raise IdempotencyKeyReused(
                f"the {HEADER} {key!r} was already used for a different request"
            )
        if record.response is not None:
            return record.response
        if not self._abandoned(record, now) or not await self.store.take_over(
            scope, key, record.locked_at, lease, now
        ):
            raise IdempotencyKeyInFlight(
                f"a request with the {HEADER} {key!r} is still being processed; retry shortly"
            )
        return None
