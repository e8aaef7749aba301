"""Fixtures shared by the integration tests."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase


@pytest.fixture
async def fresh_db(
    mongo_client: AsyncMongoClient[dict[str, Any]],
) -> AsyncIterator[AsyncDatabase[dict[str, Any]]]:
    """An empty database of the test's own, dropped afterwards."""
    name = f"mig_{uuid.uuid4().hex[:10]}"
    yield mongo_client[name]
    await mongo_client.drop_database(name)
