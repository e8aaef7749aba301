"""WatchVMs' resume tokens in both carriers (`resume_token`, `Last-Event-ID`): every malformed,
out-of-range, refused or future token is a 400 naming the carrier that brought it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from bench.server_process import ServerProcess
from tests.e2e.servers import admin_client, own_server
from tests.e2e.sse import Watch

CARRIERS = ("resume_token", "Last-Event-ID")
FUTURE_SECONDS = 4_000_000_000  # the year 2096: a time no cluster has reached
# Tokens whose form the service never issues, or whose parts no cluster time can hold.
MALFORMED = [
    "t4294967296.0",  # seconds past 2**32 - 1
    "t0.4294967296",  # increment past 2**32 - 1
    "t9999999999.9999999999",
    "t1.2.3",
    "t.1",
    "t1.",
    "t-1.0",
    "t+1.0",
    "tt1.0",
    "T1.0",
    "zz",
    "82ABC",  # odd number of hex digits
    "82" + "0" * 15,  # too short to hold a cluster time
    "8" * 1100,  # longer than any token
    "41" + "0" * 40,  # hex, but not a KeyString of a cluster time
]


@pytest.fixture(scope="module")
def token_server(mongo_url: str) -> Iterator[ServerProcess]:
    """A server of its own."""
    with own_server(mongo_url, "e2e_watch_tokens", RATE_LIMIT_PER_MINUTE="1000000") as process:
        yield process


@pytest.fixture
async def http(token_server: ServerProcess) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of the server with its admin key."""
    async with admin_client(token_server) as client:
        yield client


async def _event_token(http: httpx.AsyncClient) -> str:
    """The id of a real ADDED event (a hex resume token MongoDB wrote)."""
    async with Watch(http) as stream:
        first = await stream.next()
    assert first is not None and first.id is not None
    name = f"tok-{uuid.uuid4().hex[:8]}"
    created = await http.post(
        "/api/v1/vms",
        json={"name": name, "os": "ubuntu", "cpu_cores": 1, "memory_mib": 512, "storage_gib": 1},
    )
    assert created.status_code == 201, created.text
    async with Watch(http, {"name_prefix": name, "resume_token": first.id}) as stream:
        event = (await stream.changes(1))[0]
    assert event.id is not None and event.id.startswith("82")
    return event.id


async def _watch_with(http: httpx.AsyncClient, carrier: str, token: str) -> httpx.Response:
    """The answer to a watch from `token`; a stream (200) is closed at once, unread."""
    params = {"resume_token": token} if carrier == "resume_token" else {}
    headers = {"Last-Event-ID": token} if carrier == "Last-Event-ID" else {}
    async with http.stream("GET", "/api/v1/vms/watch", params=params, headers=headers) as answer:
        if answer.status_code != 200:
            await answer.aread()
    return answer


def _assert_400_naming(answer: httpx.Response, carrier: str) -> None:
    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in answer.json()["errors"]] == [carrier]


@pytest.mark.parametrize("carrier", CARRIERS)
@pytest.mark.parametrize("token", MALFORMED, ids=lambda t: t[:24])
async def test_a_malformed_or_out_of_range_token_is_400_naming_its_carrier(
    http: httpx.AsyncClient, carrier: str, token: str
) -> None:
    _assert_400_naming(await _watch_with(http, carrier, token), carrier)


@pytest.mark.parametrize("carrier", CARRIERS)
async def test_a_token_from_the_future_is_400_not_a_stream_skipping_every_change(
    http: httpx.AsyncClient, carrier: str
) -> None:
    real = await _event_token(http)
    future_hex = f"82{FUTURE_SECONDS:08X}{1:08X}" + real[18:]
    for token in ("t2000000000.0", f"t{FUTURE_SECONDS}.0", future_hex):
        _assert_400_naming(await _watch_with(http, carrier, token), carrier)


@pytest.mark.parametrize("carrier", CARRIERS)
async def test_a_token_mongodb_refuses_is_400_naming_its_carrier(
    http: httpx.AsyncClient, carrier: str
) -> None:
    real = await _event_token(http)
    # Well-formed hex of a past cluster time, but no resume token MongoDB ever wrote.
    forged = real[:-8] + ("0" * 8 if not real.endswith("0" * 8) else "1" * 8)
    _assert_400_naming(await _watch_with(http, carrier, forged), carrier)


@pytest.mark.parametrize("carrier", CARRIERS)
async def test_issued_tokens_still_resume_in_both_carriers(
    http: httpx.AsyncClient, carrier: str
) -> None:
    real = await _event_token(http)
    listed = await http.get("/api/v1/vms", params={"page_size": "1"})
    watch_token = listed.json()["watch_token"]
    for token in (real, watch_token):
        headers = {"Last-Event-ID": token} if carrier == "Last-Event-ID" else {}
        params = {"resume_token": token} if carrier == "resume_token" else {}
        async with Watch(http, params, headers) as stream:
            assert stream.response.status_code == 200
