"""Shared fixtures: one real MongoDB per session (MONGODB_URL, testcontainers or local mongod)."""

from __future__ import annotations

import os
import uuid
import warnings
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError

from service.config import Settings
from service.domain.apikeys import Scope
from service.domain.projects import DEFAULT_PROJECT, RESOURCES
from service.http.app import create_app
from service.storage.api_keys import ApiKeyRepository
from service.storage.migrations.runner import upgrade
from service.storage.mongod import LocalMongod, free_port


def _docker_engine_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=2).ping()
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def mongo_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A MongoDB replica set for the whole session."""
    if url := os.environ.get("MONGODB_URL"):
        yield url
        return
    if _docker_engine_answers():
        from testcontainers.mongodb import MongoDbContainer

        container = MongoDbContainer("mongo:8").with_command("--replSet rs0 --bind_ip_all")
        with container:
            members = "[{_id:0,host:'localhost:27017'}]"
            container.exec(
                f"mongosh --quiet --eval \"rs.initiate({{_id:'rs0',members:{members}}})\""
            )
            host = container.get_container_host_ip()
            port = container.get_exposed_port(27017)
            yield f"mongodb://{host}:{port}/?directConnection=true"
        return
    # The TTL monitor every second from the start (not 60 s): purges by retention in seconds.
    quick_ttl = {"ttlMonitorSleepSecs": "1"}
    mongod = LocalMongod(tmp_path_factory.mktemp("mongo"), free_port(), parameters=quick_ttl)
    mongod.start()
    try:
        yield mongod.url
    finally:
        mongod.stop()


@pytest.fixture(scope="session")
def settings(mongo_url: str) -> Settings:
    """Settings for a database of this session's own."""
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        mongodb_url=mongo_url,
        mongodb_db=f"test_{uuid.uuid4().hex[:12]}",
        # One admin key sends every API test's requests; the limit is per key across routes, so
        # a quick machine passed 6,000 in a minute (429s). Its own tests set a small one.
        rate_limit_per_minute=10**9,
    )


@pytest.fixture(scope="session")
async def mongo_client(settings: Settings) -> AsyncIterator[AsyncMongoClient[dict[str, Any]]]:
    """A raw client, to look at what the service stored."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(settings.mongodb_url, tz_aware=True)
    yield client
    # Clean-up, not a test: on a saturated machine the driver can drop a connection it is
    # opening (a failed heartbeat resets the pool), which must not turn a green run red.
    for attempt in range(3):
        try:
            await client.drop_database(settings.mongodb_db)
            break
        except PyMongoError as exc:
            if attempt == 2:
                warnings.warn(
                    f"test database {settings.mongodb_db} left behind: {exc}", stacklevel=1
                )
    await client.close()


@pytest.fixture(scope="session")
async def db(
    mongo_client: AsyncMongoClient[dict[str, Any]], settings: Settings
) -> AsyncDatabase[dict[str, Any]]:
    """The session's database, migrated to the newest version."""
    database = mongo_client[settings.mongodb_db]
    await upgrade(database)
    return database


@pytest.fixture(scope="session")
async def api_keys(db: AsyncDatabase[dict[str, Any]]) -> ApiKeyRepository:
    """The API key store of the session's database (to create keys in tests)."""
    return ApiKeyRepository(db)


@pytest.fixture(scope="session")
async def admin_token(api_keys: ApiKeyRepository) -> str:
    """The token of an admin key, `test-admin`."""
    return await api_keys.create("test-admin", Scope.ADMIN)


@pytest.fixture(scope="session")
async def client(settings: Settings, admin_token: str) -> AsyncIterator[AsyncTestClient[Any]]:
    """An AsyncTestClient over the app, lifespan included, sending the admin key by default."""
    async with AsyncTestClient(app=create_app(settings)) as test_client:
        test_client.headers["Authorization"] = f"Bearer {admin_token}"
        yield test_client


@pytest.fixture
async def clean(db: AsyncDatabase[dict[str, Any]]) -> AsyncDatabase[dict[str, Any]]:
    """Empty every data collection before the test (project `default` stays, as the migration
    left it: no limits, nothing used)."""
    for name in await db.list_collection_names():
        if not name.startswith(("schema_", "system.")) and name not in PROJECT_COLLECTIONS:
            await db[name].delete_many({})
    await reset_projects(db)
    return db


PROJECT_COLLECTIONS = ("api_keys", "projects", "project_usage")


async def reset_projects(db: AsyncDatabase[dict[str, Any]]) -> None:
    """Only project `default` left, with no limits and nothing used."""
    unlimited = dict.fromkeys(RESOURCES)
    await db.projects.delete_many({"_id": {"$ne": DEFAULT_PROJECT}})
    await db.projects.update_one(
        {"_id": DEFAULT_PROJECT}, {"$set": {"quota": unlimited, "revision": 1}}
    )
    await db.project_usage.delete_many({"project": {"$ne": DEFAULT_PROJECT}})
    await db.project_usage.update_many(
        {"project": DEFAULT_PROJECT},
        {"$set": {"used": dict.fromkeys(RESOURCES, 0), "allow": unlimited, "limit": unlimited}},
    )
