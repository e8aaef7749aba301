"""IdempotencyService against an in-memory key store: claim, replay, lease take-over, release."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from service.domain.errors import IdempotencyKeyInFlight, IdempotencyKeyReused
from service.domain.idempotency import (
    LEASE,
    Claim,
    IdempotencyService,
    KeyRecord,
    Render,
    StoredResponse,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


class MemoryStore:
    """Keys in a dict, with the store's contract."""

    def __init__(self) -> None:
        self.records: dict[tuple[str, str], KeyRecord] = {}

    async def claim(
        self,
        scope: str,
        key: str,
        fingerprint: str,
        lease: str,
        now: datetime,
        expired_before: datetime,
    ) -> KeyRecord | None:
        record = self.records.get((scope, key))
        if record is not None and record.created_at >= expired_before:
            return record
        self.records[(scope, key)] = KeyRecord(fingerprint, now, now, lease=lease)
        return None

    async def take_over(
        self, scope: str, key: str, locked_at: datetime, lease: str, now: datetime
    ) -> bool:
        record = self.records[(scope, key)]
        if record.locked_at != locked_at or record.response is not None:
            return False
        record.locked_at, record.lease = now, lease
        return True

    async def complete(
        self, scope: str, key: str, lease: str, response: StoredResponse, session: Any = None
    ) -> bool:
        record = self.records[(scope, key)]
        if record.lease != lease or record.response is not None:
            return False
        record.response = response
        return True

    async def release(self, scope: str, key: str, lease: str) -> None:
        record = self.records[(scope, key)]
        if record.lease == lease and record.response is None:
            del self.records[(scope, key)]


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def ok(status: int = 201) -> StoredResponse:
    return StoredResponse(status=status, body=b"{}", headers={})


async def run(
    service: IdempotencyService,
    scope: str,
    key: str,
    fingerprint: str,
    operation: Callable[[Claim], Awaitable[StoredResponse]],
    committed: Render | None = None,
) -> tuple[StoredResponse, bool]:
    """What service.http.idempotency.Claimed does around a handler: the response and False, or
    the stored one and True for a retry."""
    async with service.holding(scope, key, fingerprint, committed) as claim:
        if claim.replay is not None:
            return claim.replay, True
        response = await operation(claim)
        await service.finish(claim, response)
        return response, False


async def test_first_run_then_replay_then_reuse_is_422() -> None:
    service = IdempotencyService(MemoryStore(), Clock())
    calls: list[int] = []

    async def op(*_: object) -> StoredResponse:
        calls.append(1)
        return ok()

    assert await run(service, "a", "k", "f1", op) == (ok(), False)
    assert await run(service, "a", "k", "f1", op) == (ok(), True)
    with pytest.raises(IdempotencyKeyReused):
        await run(service, "a", "k", "f2", op)
    assert len(calls) == 1
    assert (await run(service, "b", "k", "f2", op))[1] is False  # another caller's key


async def test_in_flight_is_409_until_the_lease_runs_out_then_taken_over() -> None:
    store, clock = MemoryStore(), Clock()
    service = IdempotencyService(store, clock)
    # A request still running, in another process.
    await store.claim("a", "k", "f", "elsewhere.1", T0, T0 - timedelta(days=1))

    async def op(*_: object) -> StoredResponse:
        return ok()

    with pytest.raises(IdempotencyKeyInFlight):
        await run(service, "a", "k", "f", op)
    clock.now = T0 + LEASE + timedelta(seconds=1)  # its process died: the lease ran out
    assert await run(service, "a", "k", "f", op) == (ok(), False)


async def test_server_errors_and_exceptions_free_the_key() -> None:
    store = MemoryStore()
    service = IdempotencyService(store, Clock())

    async def fails(*_: object) -> StoredResponse:
        raise RuntimeError("boom")

    async def unavailable(*_: object) -> StoredResponse:
        return ok(503)

    with pytest.raises(RuntimeError):
        await run(service, "a", "k", "f", fails)
    assert await run(service, "a", "k", "f", unavailable) == (ok(503), False)
    assert store.records == {}
