"""The facade's retries against the real server, through a proxy that injects faults."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from vm_inventory_client import (
    ConnectionFailed,
    NotFound,
    PreconditionRequired,
    RateLimited,
    RetryPolicy,
    Unavailable,
    VMInventory,
)

from bench.server_process import ServerProcess
from service.storage.mongod import LocalMongod, free_port
from tests.e2e.proxy import FaultyProxy

SPEC = {"os": "ubuntu-24.04", "cpu_cores": 2, "memory_mib": 4096, "storage_gib": 40}


class Waits:
    """A RetryPolicy sleep that records each wait instead of sleeping."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
async def proxy(server: ServerProcess) -> AsyncIterator[FaultyProxy]:
    async with FaultyProxy(server.base_url, retry_after="1") as faulty:
        yield faulty


@pytest.fixture
def waits() -> Waits:
    return Waits()


def inventory(proxy: FaultyProxy, token: str, waits: Waits, attempts: int = 4) -> VMInventory:
    """A facade talking through the proxy, recording its waits."""
    return VMInventory(proxy.base_url, token=token, retry=RetryPolicy(attempts, sleep=waits))


async def test_503_is_retried_after_retry_after(
    server: ServerProcess, proxy: FaultyProxy, waits: Waits
) -> None:
    async with inventory(proxy, server.token, waits) as inv:
        vm = await inv.vms.create(name=f"retry-{uuid.uuid4().hex[:8]}", **SPEC)
        proxy.fail_next("GET", "503", "503")
        assert (await inv.vms.get(vm.id)).id == vm.id
    assert waits.waits == [1.0, 1.0]  # the server's Retry-After, each time
    assert [s.fault for s in proxy.seen if s.method == "GET"] == ["503", "503", None]


async def test_429_is_retried_after_retry_after(
    server: ServerProcess, proxy: FaultyProxy, waits: Waits
) -> None:
    async with inventory(proxy, server.token, waits) as inv:
        vm = await inv.vms.create(name=f"limited-{uuid.uuid4().hex[:8]}", **SPEC)
        proxy.fail_next("GET", "429")
        assert (await inv.vms.get(vm.id)).id == vm.id
    assert waits.waits == [1.0]
    assert [s.fault for s in proxy.seen if s.method == "GET"] == ["429", None]


async def test_create_is_idempotent_when_its_answer_is_lost(
    server: ServerProcess, proxy: FaultyProxy, waits: Waits
) -> None:
    name = f"lost-{uuid.uuid4().hex[:8]}"
    async with inventory(proxy, server.token, waits) as inv:
        proxy.fail_next("POST", "lose")  # the server creates it, the client never hears
        vm = await inv.vms.create(name=name, **SPEC)
        assert vm.name == name
        assert await inv.vms.count(name_prefix=name) == 1
    posts = [s for s in proxy.seen if s.method == "POST"]
    assert [s.fault for s in posts] == ["lose", None]
    keys = {s.headers["idempotency-key"] for s in posts}
    assert len(keys) == 1  # the retry reused the key, so the server replayed the first answer


async def test_a_key_still_in_flight_is_retried(
    server: ServerProcess, proxy: FaultyProxy, waits: Waits
) -> None:
    name = f"inflight-{uuid.uuid4().hex[:8]}"
    async with inventory(proxy, server.token, waits) as inv:
        proxy.fail_next("POST", "inflight")
        assert (await inv.vms.create(name=name, **SPEC)).name == name
    assert waits.waits == [1.0]
    posts = [s for s in proxy.seen if s.method == "POST"]
    assert [s.fault for s in posts] == ["inflight", None]
    assert len({s.headers["idempotency-key"] for s in posts}) == 1


async def test_conditional_update_survives_a_lost_answer(
    server: ServerProcess, proxy: FaultyProxy, waits: Waits
) -> None:
    async with inventory(proxy, server.token, waits) as inv:
        vm = await inv.vms.create(name=f"lost-{uuid.uuid4().hex[:8]}", **SPEC)
        proxy.fail_next("PATCH", "lose")
        updated = await inv.vms.update(vm.id, description="once", if_match=vm.revision)
        assert updated.revision == 2  # the replay, not a 412 for the already-applied change
        proxy.fail_next("DELETE", "lose")
        await inv.vms.delete(vm.id, if_match=updated.revision)  # the replayed 204, not a 404
    assert [s.fault for s in proxy.seen if s.method in ("PATCH", "DELETE")] == [
        "lose", None, "lose", None,
    ]  # fmt: skip


async def test_connection_errors_back_off_exponentially(
    server: ServerProcess, proxy: FaultyProxy, waits: Waits
) -> None:
    async with inventory(proxy, server.token, waits) as inv:
        vm = await inv.vms.create(name=f"retry-{uuid.uuid4().hex[:8]}", **SPEC)
        proxy.fail_next("GET", "reset", "reset", "reset")
        assert (await inv.vms.get(vm.id)).id == vm.id
    assert len(waits.waits) == 3
    # Exponential with jitter: each wait is 0.5-1x of 0.25 s doubled per attempt.
    for attempt, wait in enumerate(waits.waits):
        assert 0.125 * 2**attempt <= wait <= 0.25 * 2**attempt


async def test_attempts_are_bounded(
    server: ServerProcess, proxy: FaultyProxy, waits: Waits
) -> None:
    async with inventory(proxy, server.token, waits, attempts=3) as inv:
        proxy.fail_next("GET", "503", "503", "503", "503")
        with pytest.raises(Unavailable) as caught:
            await inv.vms.get("665f1c2e8b3e4a0012345678")
        assert caught.value.retry_after == 1.0
        proxy.fail_next("GET", "reset", "reset", "reset")
        with pytest.raises(ConnectionFailed):
            await inv.vms.get("665f1c2e8b3e4a0012345678")
    assert len([s for s in proxy.seen if s.method == "GET"]) == 6  # 3 attempts each


async def test_a_retry_after_beyond_max_delay_is_not_waited(
    server: ServerProcess, waits: Waits
) -> None:
    async with FaultyProxy(server.base_url, retry_after="3600") as faulty:
        policy = RetryPolicy(attempts=5, max_delay=30, sleep=waits)
        async with VMInventory(faulty.base_url, token=server.token, retry=policy) as inv:
            faulty.fail_next("GET", "503")
            with pytest.raises(Unavailable) as caught:
                await inv.vms.get("665f1c2e8b3e4a0012345678")
    assert caught.value.retry_after == 3600
    assert waits.waits == []


LIMIT = 20


@pytest.fixture(scope="module")
def own_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalMongod]:
    """A mongod of this module's own, so that tests can stop and restart it."""
    mongod = LocalMongod(tmp_path_factory.mktemp("own-mongo"), free_port())
    mongod.start()
    try:
        yield mongod
    finally:
        mongod.stop()


@pytest.fixture(scope="module")
def own_server(own_db: LocalMongod) -> Iterator[ServerProcess]:
    """The real server on `own_db` (503 quickly while it is down; writes need If-Match)."""
    process = ServerProcess(
        own_db.url,
        "e2e_outage",
        MONGODB_TIMEOUT_MS="300",
        RATE_LIMIT_PER_MINUTE=str(LIMIT),
        REQUIRE_IF_MATCH="true",
    ).start()
    try:
        yield process
    finally:
        process.stop()


async def test_database_outage_is_retried_until_it_is_back(
    own_db: LocalMongod, own_server: ServerProcess
) -> None:
    waits: list[float] = []
    retrying = asyncio.Event()

    async def wait(seconds: float) -> None:
        waits.append(seconds)
        retrying.set()
        await asyncio.sleep(seconds)

    async with VMInventory(own_server.base_url, token=own_server.token) as inv:
        vm = await inv.vms.create(name=f"outage-{uuid.uuid4().hex[:8]}", **SPEC)
    own_db.stop()
    give_up = RetryPolicy(attempts=2, sleep=Waits())
    async with VMInventory(own_server.base_url, token=own_server.token, retry=give_up) as inv:
        with pytest.raises(Unavailable) as caught:  # bounded: it gives up after its attempts
            await inv.vms.get(vm.id)
    assert caught.value.retry_after is not None
    patient = RetryPolicy(attempts=20, sleep=wait)
    async with VMInventory(own_server.base_url, token=own_server.token, retry=patient) as inv:
        fetch = asyncio.create_task(inv.vms.get(vm.id))
        await retrying.wait()  # the first attempt got its 503
        await asyncio.to_thread(own_db.start)
        assert (await fetch).id == vm.id
    assert waits[0] == caught.value.retry_after  # waited what the server asked


async def test_rate_limit_raises_rate_limited(own_server: ServerProcess) -> None:
    token = await asyncio.to_thread(own_server.create_api_key, "burst", "read")
    async with VMInventory(own_server.base_url, token=token, retry=RetryPolicy(1)) as inv:

        async def burst() -> None:
            # Within 2 * LIMIT + 1 requests one fixed one-minute window runs out.
            for _ in range(2 * LIMIT + 1):
                with contextlib.suppress(NotFound):
                    await inv.vms.get("665f1c2e8b3e4a0012345678")

        with pytest.raises(RateLimited) as caught:
            await burst()
    assert caught.value.status == 429
    assert caught.value.retry_after is not None
    assert 1 <= caught.value.retry_after <= 60


async def test_writes_without_if_match_can_be_refused(own_server: ServerProcess) -> None:
    async with VMInventory(own_server.base_url, token=own_server.token) as inv:
        vm = await inv.vms.create(name=f"strict-{uuid.uuid4().hex[:8]}", **SPEC)
        with pytest.raises(PreconditionRequired) as refused:
            await inv.vms.update(vm.id, description="blind")
        assert refused.value.status == 428
        assert (await inv.vms.update(vm.id, description="seen", if_match=1)).revision == 2
