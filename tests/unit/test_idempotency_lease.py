"""Leases of Idempotency-Keys: an ended request's claim is taken over at once, a live one is not,
and a holder whose claim was taken over cannot record (so cannot commit) its write."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from service.domain.errors import IdempotencyKeyInFlight
from service.domain.idempotency import LEASE, Claim, IdempotencyService, StoredResponse
from tests.unit.test_idempotency_service import T0, Clock, MemoryStore, ok, run


async def test_the_claim_of_an_ended_request_of_this_process_is_taken_over_at_once() -> None:
    store, clock = MemoryStore(), Clock()
    service = IdempotencyService(store, clock)

    async def lost(_: Claim) -> StoredResponse:
        # MongoDB went away: the key cannot even be released.
        async def release(*args: object) -> None:
            raise ConnectionError

        store.release = release  # type: ignore[method-assign,assignment]
        raise ConnectionError

    with pytest.raises(ConnectionError):
        await run(service, "a", "k", "f", lost)
    del store.release
    assert store.records[("a", "k")].response is None  # still claimed
    assert await run(service, "a", "k", "f", _ok) == (ok(), False)


async def test_a_live_claim_is_in_flight_and_another_process_s_claim_waits_for_its_lease() -> None:
    store, clock = MemoryStore(), Clock()
    service = IdempotencyService(store, clock)
    started, finish = asyncio.Event(), asyncio.Event()

    async def slow(_: Claim) -> StoredResponse:
        started.set()
        await finish.wait()
        return ok()

    first = asyncio.create_task(run(service, "a", "k", "f", slow))
    await started.wait()
    with pytest.raises(IdempotencyKeyInFlight):  # same process, still running
        await run(service, "a", "k", "f", _ok)
    finish.set()
    assert await first == (ok(), False)

    await store.claim("a", "other", "f", "elsewhere.1", T0, T0 - timedelta(days=1))
    clock.now = T0 + LEASE - timedelta(seconds=1)
    with pytest.raises(IdempotencyKeyInFlight):
        await run(service, "a", "other", "f", _ok)
    clock.now = T0 + LEASE
    assert await run(service, "a", "other", "f", _ok) == (ok(), False)


async def test_a_holder_whose_claim_was_taken_over_cannot_record_its_write() -> None:
    store, clock = MemoryStore(), Clock()
    old, new = IdempotencyService(store, clock), IdempotencyService(store, clock)
    committed: list[str] = []

    async def write(claim: Claim, name: str) -> StoredResponse:
        await claim.record(None, name)  # what the repository does before committing
        committed.append(name)
        return ok()

    async def retry(claim: Claim) -> StoredResponse:
        return await write(claim, "retry")

    async def slow_write(claim: Claim) -> StoredResponse:
        clock.now = T0 + LEASE  # meanwhile the lease ran out and a retry took the key over
        assert await run(new, "a", "k", "f", retry, _render) == (ok(), False)
        return await write(claim, "slow")

    with pytest.raises(IdempotencyKeyInFlight):
        await run(old, "a", "k", "f", slow_write, _render)
    assert committed == ["retry"]
    assert store.records[("a", "k")].response == ok()


async def _ok(_: Claim) -> StoredResponse:
    return ok()


def _render(result: object) -> StoredResponse:
    return ok()


async def test_an_answer_after_a_rolled_back_attempt_is_stored() -> None:
    store = MemoryStore()
    service = IdempotencyService(store, Clock())

    async def rolled_back_then_412(claim: Claim) -> StoredResponse:
        await claim.record(None, "vm")  # an attempt whose transaction was rolled back
        store.records[("a", "k")].response = None
        return ok(412)

    assert await run(service, "a", "k", "f", rolled_back_then_412, _render) == (ok(412), False)
    assert await run(service, "a", "k", "f", _ok, _render) == (ok(412), True)
