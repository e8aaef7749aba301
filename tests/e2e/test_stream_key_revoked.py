"""A stream re-checks its API key while it runs: WatchVMs ends with an ERROR event (401) and an
ExportVMs in progress is cut short once the key is revoked (authentication looked at the start
of the request only, and a stream has no maximum lifetime)."""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from bench.server_process import ServerProcess
from service.domain.apikeys import Scope
from service.storage.api_keys import ApiKeyRepository
from tests.api.listing_data import vm_doc
from tests.e2e.servers import own_server
from tests.e2e.sse import Event, EventStream, Watch

CACHE_S = "1"  # API_KEY_CACHE_SECONDS: a revoked key stops working within a second
EXPORTED = 15_000  # about 15 MB of NDJSON: far more than the sockets buffer (see _small_window)
END_WITHIN_S = 60.0  # a bound against hanging, not a timing assertion


@pytest.fixture(scope="module")
def key_server(mongo_url: str) -> Iterator[ServerProcess]:
    """A server of its own, trusting a verified key for CACHE_S, with quick heartbeats."""
    with own_server(
        mongo_url, "e2e_stream_keys", API_KEY_CACHE_SECONDS=CACHE_S, WATCH_HEARTBEAT_SECONDS="0.5",
        RATE_LIMIT_PER_MINUTE="1000000",
    ) as process:  # fmt: skip
        yield process


@pytest.fixture
async def keys(key_server: ServerProcess) -> AsyncIterator[ApiKeyRepository]:
    """The server's API keys, as `apikey create` and `apikey revoke` change them."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(key_server.env["MONGODB_URL"])
    yield ApiKeyRepository(client[key_server.env["MONGODB_DB"]])
    await client.close()


def _small_window() -> httpx.AsyncHTTPTransport:
    """A client socket with a fixed 64 KiB receive buffer (no autotuning up to 32 MiB): what
    the client leaves unread stays on the server, as it would over a real network."""
    return httpx.AsyncHTTPTransport(socket_options=[(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)])


async def _reader(key_server: ServerProcess, keys: ApiKeyRepository) -> tuple[str, dict[str, str]]:
    name = f"reader-{uuid.uuid4().hex[:8]}"
    token = await keys.create(name, Scope.READ)
    return name, {"Authorization": f"Bearer {token}"}


async def _until_error(stream: EventStream) -> Event:
    """Read events (BOOKMARKs, changes) until the ERROR that ends the stream."""
    deadline = time.monotonic() + END_WITHIN_S
    while True:
        assert time.monotonic() < deadline, "the stream was never ended"
        event = await stream.next()
        assert event is not None, "the stream ended without an ERROR event"
        if event.event == "ERROR":
            return event


async def _read_into(chunks: AsyncIterator[bytes], received: bytearray) -> None:
    async for chunk in chunks:
        received += chunk


async def test_a_watch_ends_with_401_once_its_key_is_revoked(
    key_server: ServerProcess, keys: ApiKeyRepository
) -> None:
    name, auth = await _reader(key_server, keys)
    async with (
        httpx.AsyncClient(base_url=key_server.base_url, timeout=30) as http,
        Watch(http, {"name_prefix": "revoked-"}, auth) as stream,
    ):
        assert stream.response.status_code == 200
        first = await stream.next()
        assert first is not None and first.event == "BOOKMARK"
        await keys.revoke(name)
        for i in range(3):  # changes after the revocation must not keep flowing forever
            created = await http.post(
                "/api/v1/vms",
                json={"name": f"revoked-{uuid.uuid4().hex[:6]}-{i}", "os": "ubuntu",
                      "cpu_cores": 1, "memory_mib": 512, "storage_gib": 1},
                headers=key_server.headers,
            )  # fmt: skip
            assert created.status_code == 201
        error = await _until_error(stream)
        assert (error.data["status"], error.data["reason"]) == (401, "unauthorized")
        assert error.data["resume_token"]
        assert await stream.next() is None  # and the stream is over
        listed = await http.get("/api/v1/vms", headers=auth)
        assert listed.status_code == 401


async def test_a_watch_with_a_valid_key_goes_on(
    key_server: ServerProcess, keys: ApiKeyRepository
) -> None:
    _, auth = await _reader(key_server, keys)
    async with (
        httpx.AsyncClient(base_url=key_server.base_url, timeout=30) as http,
        Watch(http, {"name_prefix": "kept-"}, auth) as stream,
    ):
        # Several checks of the key pass (a heartbeat BOOKMARK every 0.5 s, a check every 1 s).
        seen = [await stream.next() for _ in range(8)]
        assert all(e is not None and e.event == "BOOKMARK" for e in seen)


async def test_an_export_in_progress_is_cut_short_once_its_key_is_revoked(
    key_server: ServerProcess, keys: ApiKeyRepository
) -> None:
    database = keys.keys.database
    docs = [vm_doc(i, name=f"exp-{i:06d}", description="d" * 800) for i in range(EXPORTED)]
    await database.vms.insert_many(docs)
    name, auth = await _reader(key_server, keys)
    received = bytearray()
    async with (
        httpx.AsyncClient(base_url=key_server.base_url, timeout=30) as http,
        httpx.AsyncClient(
            base_url=key_server.base_url, timeout=30, transport=_small_window()
        ) as slow,
        slow.stream("GET", "/api/v1/vms/export", params={"name_prefix": "exp-"}, headers=auth)
        as export,
        # A watch with the same key: its ERROR tells when the server found the key gone.
        Watch(http, {"name_prefix": "none-"}, auth) as watch,
    ):  # fmt: skip
        assert export.status_code == 200
        chunks = export.aiter_raw()
        received += await anext(chunks)
        await keys.revoke(name)
        error = await _until_error(watch)
        assert error.data["status"] == 401
        with pytest.raises(httpx.RemoteProtocolError):  # no final chunk: incomplete, not short
            await _read_into(chunks, received)
    assert received.count(b"\n") < EXPORTED
