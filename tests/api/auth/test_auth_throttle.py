"""The token-guess throttle never refuses a valid key (new, or verified before and no longer
cached), while guessing stays throttled (429) and cheap for MongoDB."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import pytest
from litestar.exceptions import TooManyRequestsException
from litestar.testing import AsyncTestClient
from pymongo.asynchronous.database import AsyncDatabase

from service.config import Settings
from service.domain.apikeys import ApiKey, Scope
from service.http.app import create_app
from service.http.middleware import auth
from service.http.middleware.auth import MAX_FAILURES_PER_MINUTE, KeyVerifier
from service.storage.api_keys import ApiKeyRepository
from tests.api.helpers import BASE, assert_problem, bearer

GUESSES = MAX_FAILURES_PER_MINUTE + 5


@pytest.fixture(autouse=True)
def one_minute(monkeypatch: pytest.MonkeyPatch) -> None:
    """The throttle counts per clock minute: keep the test inside one."""
    minute = SimpleNamespace(time=lambda: 60 * 29_000_000 + 30.0, monotonic=time.monotonic)
    monkeypatch.setattr(auth, "time", minute)


@pytest.fixture(params=[10.0, 0.0], ids=["cached", "cache-expired"])
async def fresh(settings: Settings, request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    """An app with a verifier of its own; with a 0 s cache every request verifies anew, as a
    key whose cache entry has expired does."""
    app = create_app(settings.model_copy(update={"api_key_cache_seconds": request.param}))
    async with AsyncTestClient(app=app) as client:
        yield client


async def test_valid_keys_pass_while_their_address_is_throttled_for_guessing(
    fresh: AsyncTestClient[Any], api_keys: ApiKeyRepository
) -> None:
    known = await api_keys.create(f"throttle-known-{id(fresh)}", Scope.READ)
    assert (await fresh.get(BASE, headers=bearer(known))).status_code == 200
    statuses = [
        (await fresh.get(BASE, headers=bearer(f"vmi_guess-{i}"))).status_code
        for i in range(GUESSES)
    ]
    assert statuses == [401] * MAX_FAILURES_PER_MINUTE + [429] * 5
    throttled = await fresh.get(BASE, headers=bearer("vmi_guess-last"))
    assert_problem(throttled, 429)
    assert int(throttled.headers["retry-after"]) >= 1
    brand_new = await api_keys.create(f"throttle-new-{id(fresh)}", Scope.WRITE)
    for token in (brand_new, known, brand_new, known):
        assert (await fresh.get(BASE, headers=bearer(token))).status_code == 200
    assert_problem(await fresh.get(BASE, headers=bearer("vmi_guess-after")), 429)


class CountingRepository(ApiKeyRepository):
    """The real repository, counting lookups and how many ran at once."""

    def __init__(self, database: AsyncDatabase[dict[str, Any]]) -> None:
        super().__init__(database)
        self.lookups = self.running = self.most_at_once = 0

    async def find(self, token: str) -> ApiKey | None:
        self.lookups += 1
        self.running += 1
        self.most_at_once = max(self.most_at_once, self.running)
        try:
            return await super().find(token)
        finally:
            self.running -= 1


async def test_a_failed_token_is_answered_without_asking_mongodb_again(
    db: AsyncDatabase[dict[str, Any]],
) -> None:
    verifier = KeyVerifier(10.0)
    verifier.repo = repo = CountingRepository(db)
    for _ in range(5):
        assert await verifier.verify("vmi_wrong", "10.0.0.1") is None
    assert repo.lookups == 1


async def test_a_throttled_address_gets_one_lookup_at_a_time_and_its_valid_keys_pass(
    db: AsyncDatabase[dict[str, Any]], api_keys: ApiKeyRepository
) -> None:
    verifier = KeyVerifier(10.0)
    verifier.repo = repo = CountingRepository(db)
    address = "10.0.0.2"
    for i in range(MAX_FAILURES_PER_MINUTE):
        assert await verifier.verify(f"vmi_a-{i}", address) is None
    repo.most_at_once = 0
    token = await api_keys.create("throttle-concurrent", Scope.READ)
    results = await asyncio.gather(
        *(verifier.verify(f"vmi_b-{i}", address) for i in range(20)),
        verifier.verify(token, address),
        return_exceptions=True,
    )
    *guesses, valid = results
    assert all(isinstance(r, TooManyRequestsException) for r in guesses), guesses
    assert getattr(valid, "name", None) == "throttle-concurrent"
    assert repo.most_at_once == 1
    assert await verifier.verify(f"vmi_c-{address}", "10.0.0.3") is None  # another address: 401
