"""Fixtures the API tests share."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from pymongo.asynchronous.database import AsyncDatabase

from service.config import Settings
from service.http.app import create_app


@pytest.fixture(scope="module")
async def strict_client(
    settings: Settings, db: AsyncDatabase[dict[str, Any]], admin_token: str
) -> AsyncIterator[AsyncTestClient[Any]]:
    """The app with REQUIRE_IF_MATCH=true, sending the admin key."""
    strict = settings.model_copy(update={"require_if_match": True})
    async with AsyncTestClient(app=create_app(strict)) as test_client:
        test_client.headers["Authorization"] = f"Bearer {admin_token}"
        yield test_client
