"""The real server process, shared by the SDK's end-to-end tests."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from pymongo import MongoClient

from bench.server_process import ServerProcess
from tests.e2e.servers import own_server


@pytest.fixture(scope="session")
def server(mongo_url: str) -> Iterator[ServerProcess]:
    """`python -m service serve` on a free port, on a database of its own."""
    with own_server(mongo_url, "e2e_sdk") as process:
        yield process


@pytest.fixture
def db_name(mongo_url: str) -> Iterator[str]:
    """A database name of the test's own, dropped afterwards."""
    name = f"e2e_db_{uuid.uuid4().hex[:8]}"
    yield name
    with MongoClient(mongo_url) as client:
        client.drop_database(name)
