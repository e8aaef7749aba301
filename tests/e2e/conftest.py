"""The real server process, shared by the SDK's end-to-end tests."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from pymongo import MongoClient

from bench.server_process import ServerProcess


@pytest.fixture(scope="session")
def server(mongo_url: str) -> Iterator[ServerProcess]:
    """`python -m service serve` on a free port, on a database of its own."""
    db_name = f"e2e_sdk_{uuid.uuid4().hex[:8]}"
    process = ServerProcess(mongo_url, db_name).start()
    try:
        yield process
    finally:
        assert process.stop() == 0, process.output()
        with MongoClient(mongo_url) as client:
            client.drop_database(db_name)
