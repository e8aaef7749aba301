"""Leases of Idempotency-Keys: an ended request's claim is taken over at once, a live one is not,
and a holder whose claim was taken over cannot record (so cannot commit) its write."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from service.domain.errors import IdempotencyKeyInFlight
from service.domain.idempotency import (
    LEASE,
    IdempotencyService,
    StoredResponse,
    record_in_transaction,
)
from tests.unit.test_idempotency_service import T0, Clock, MemoryStore, ok


async def test_the_claim_of_an_ended_request_of_this_process_is_taken_over_at_once() -> None:
    store, clock = MemoryStore(), Clock()
    service = IdempotencyService(store, clock)

    async def lost() -> StoredResponse:
        # MongoDB went away: the key cannot even be released.
        async def release(*args: object) -> None:
            raise ConnectionError

        store.release = release  # type: ignore[method-assign,assignment]
        raise ConnectionError

    with pytest.raises(ConnectionError):
        await service.run("a", "k", "f", lost)
    del store.release
    assert store.records[("a", "k")].response is None  # still claimed
    assert await service.run("a", "k", "f", _ok) == (ok(), False)


async def test_a_live_claim_is_in_flight_and_another_process_s_claim_waits_for_its_lease() -> None:
    store, clock = MemoryStore(), Clock()
    service = IdempotencyService(store, clock)
    started, finish = asyncio.Event(), asyncio.Event()

    async def slow() -> StoredResponse:
        started.set()
        await finish.wait()
        return ok()

    first = asyncio.create_task(service.run("a", "k", "f", slow))
    await started.wait()
    with pytest.raises(IdempotencyKeyInFlight):  # same process, still running
        await service.run("a", "k", "f", _ok)
    finish.set()
    assert await first == (ok(), False)

    await store.claim("a", "other", "f", "elsewhere.1", T0, T0 - timedelta(days=1))
    clock.now = T0 + LEASE - timedelta(seconds=1)
    with pytest.raises(IdempotencyKeyInFlight):
        await service.run("a", "other", "f", _ok)
    clock.now = T0 + LEASE
    assert await service.run("a", "other", "f", _ok) == (ok(), False)


async def test_a_holder_whose_claim_was_taken_over_cannot_record_its_write() -> None:
    store, clock = MemoryStore(), Clock()
    old, new = IdempotencyService(store, clock), IdempotencyService(store, clock)
    committed: list[str] = []

    async def write(name: str) -> StoredResponse:
        await record_in_transaction(None, name)  # what the repository does before committing
        committed.append(name)
        return ok()

    async def slow_write() -> StoredResponse:
        clock.now = T0 + LEASE  # meanwhile the lease ran out and a retry took the key over
        assert await new.run("a", "k", "f", lambda: write("retry"), _render) == (ok(), False)
        return await write("slow")

    with pytest.raises(IdempotencyKeyInFlight):
        await old.run("a", "k", "f", slow_write, _render)
    assert committed == ["retry"]
    assert store.records[("a", "k")].response == ok()


async def _ok() -> StoredResponse:
    return ok()


def _render(result: object) -> StoredResponse:
    return ok()


async def test_an_answer_after_a_rolled_back_attempt_is_stored() -> None:
    store = MemoryStore()
    service = IdempotencyService(store, Clock())

    async def rolled_back_then_412() -> StoredResponse:
        await record_in_transaction(None, "vm")  # an attempt whose transaction was rolled back
        store.records[("a", "k")].response = None
        return ok(412)

    assert await service.run("a", "k", "f", rolled_back_then_412, _render) == (ok(412), False)
    assert await service.run("a", "k", "f", _ok, _render) == (ok(412), True)
