"""Fixtures of the project API tests: no project but `default`, and keys of each kind."""

from __future__ import annotations

from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from service.domain.projects import DEFAULT_PROJECT

PROJECTS = "/api/v1/projects"


@pytest.fixture
async def fresh(db: AsyncDatabase[dict[str, Any]]) -> AsyncDatabase[dict[str, Any]]:
    """No VM, no project but `default` (whose ledger stays): what each test starts from."""
    await db.vms.delete_many({})
    await db.projects.delete_many({"_id": {"$ne": DEFAULT_PROJECT}})
    await db.project_usage.delete_many({"project": {"$ne": DEFAULT_PROJECT}})
    await db.api_keys.delete_many({"name": {"$regex": "^proj-"}})
    return db
