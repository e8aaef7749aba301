"""An export whose client stops reading is cut off after EXPORT_SEND_TIMEOUT_SECONDS: its
connection is aborted, its slot and snapshot freed (issue 20, rule 11: send time is bounded)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from bench.server_process import ServerProcess
from tests.e2e.servers import own_server, seed_vms
from tests.e2e.test_stream_limits import DEADLINE_S, EXPORT_VMS, stalled_export
from tests.e2e.test_watch_slow_consumers import big_vm, closed_by_server


@pytest.fixture(scope="module")
def server(mongo_url: str) -> Iterator[ServerProcess]:
    """A server allowing one export per key, each chunk to be taken within 1 s."""
    with own_server(
        mongo_url, "e2e_export_deadline", EXPORT_MAX_CONCURRENT_PER_KEY="1",
        EXPORT_SEND_TIMEOUT_SECONDS="1", RATE_LIMIT_PER_MINUTE="1000000",
    ) as process:  # fmt: skip
        seed_vms(process, EXPORT_VMS, big_vm)
        yield process


def test_a_client_that_stops_reading_loses_its_export(server: ServerProcess) -> None:
    token = server.create_api_key(f"reader-{uuid.uuid4().hex[:6]}", "read")
    headers = {"Authorization": f"Bearer {token}"}
    stalled = stalled_export(server, headers)  # holds the key's only export slot
    try:
        with httpx.Client(base_url=server.base_url, headers=headers, timeout=60) as http:
            # The stalled export is cut off, so the key's slot comes back without the stalled
            # client doing anything: the same key's next export is answered in full.
            stop = time.monotonic() + DEADLINE_S
            while (answer := http.get("/api/v1/vms/export")).status_code == 429:
                assert time.monotonic() < stop, "the stalled export kept its slot"
                time.sleep(0.2)
            assert answer.status_code == 200
            assert answer.content.count(b"\n") == EXPORT_VMS
        assert closed_by_server(stalled)  # its connection was aborted, not left open
    finally:
        stalled.close()
