"""Simultaneous creates of one name: exactly one wins, the index decides."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from pymongo.asynchronous.database import AsyncDatabase

from tests.api.helpers import BASE, vm_body

pytestmark = pytest.mark.usefixtures("clean")


async def test_twenty_simultaneous_creates_of_one_name(
    client: AsyncTestClient[Any], db: AsyncDatabase[dict[str, Any]]
) -> None:
    names = ["race-01" if i % 2 else "RACE-01" for i in range(20)]
    responses = await asyncio.gather(*(client.post(BASE, json=vm_body(name=n)) for n in names))
    assert Counter(r.status_code for r in responses) == {201: 1, 409: 19}
    assert await db.vms.count_documents({}) == 1
