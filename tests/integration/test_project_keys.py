"""Keys restricted to projects against projects deleted at the same moment: a key never ends up
restricted to a project that no longer exists (a project created later under that name would
be its), whichever of the two commits first."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from service.domain.apikeys import Scope
from service.domain.errors import NotFound
from service.domain.projects import ProjectCreate
from service.domain.rules import utcnow
from service.storage.api_keys import ApiKeyRepository
from service.storage.migrations.runner import upgrade
from service.storage.projects import ProjectRepository

Db = AsyncDatabase[dict[str, Any]]
ROUNDS = 25


async def test_a_key_created_while_its_project_is_deleted_never_keeps_it(fresh_db: Db) -> None:
    await upgrade(fresh_db)
    projects, keys = ProjectRepository(fresh_db), ApiKeyRepository(fresh_db)
    for round_ in range(ROUNDS):
        name = f"team-{round_}"
        created = await projects.create(ProjectCreate(name=name), utcnow())
        key, deleted = await asyncio.gather(
            keys.create(f"key-{round_}", Scope.READ, [name, "default"]),
            projects.delete(name, created.revision),
            return_exceptions=True,
        )
        assert deleted is None, deleted  # the delete always goes through
        assert isinstance(key, (str, NotFound)), key
        for stored in await keys.list():
            assert name not in (stored.projects or ()), (stored.name, stored.projects)


async def test_a_key_for_a_missing_project_is_refused_and_not_stored(fresh_db: Db) -> None:
    await upgrade(fresh_db)
    keys = ApiKeyRepository(fresh_db)
    with pytest.raises(NotFound, match="'nowhere'"):
        await keys.create("k", Scope.READ, ["default", "nowhere"])
    assert [k.name for k in await keys.list()] == []
    assert (await fresh_db.projects.find_one({"_id": "default"}) or {}).get("keys_granted") is None
