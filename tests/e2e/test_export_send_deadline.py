"""An export whose client stops reading is cut off after EXPORT_SEND_TIMEOUT_SECONDS: its
connection is aborted, its slot and snapshot freed (issue 20, rule 11: send time is bounded)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
from pymongo import MongoClient

from bench.server_process import ServerProcess
from tests.e2e.test_stream_limits import DEADLINE_S, EXPORT_VMS, stalled_export
from tests.e2e.test_watch_slow_consumers import big_vm, closed_by_server


@pytest.fixture(scope="module")
def server(mongo_url: str) -> Iterator[ServerProcess]:
    """A server allowing one export per key, each chunk to be taken within 1 s."""
    db_name = f"e2e_export_deadline_{uuid.uuid4().hex[:8]}"
    process = ServerProcess(
        mongo_url, db_name, EXPORT_MAX_CONCURRENT_PER_KEY="1", EXPORT_SEND_TIMEOUT_SECONDS="1",
        RATE_LIMIT_PER_MINUTE="1000000",
    ).start()  # fmt: skip
    try:
        with httpx.Client(base_url=process.base_url, headers=process.headers, timeout=60) as http:
            for first in range(0, EXPORT_VMS, 50):
                ops = [
                    {"op": "create", "vm": big_vm(f"big-{i:04d}")} for i in range(first, first + 50)
                ]
                assert http.post("/api/v1/vms/batch", json={"operations": ops}).status_code == 200
        yield process
    finally:
        assert process.stop() == 0, process.output()
        with MongoClient(mongo_url) as client:
            client.drop_database(db_name)


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
