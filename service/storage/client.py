"""The MongoDB client: its options and time bounds, and the wait for MongoDB to answer."""

from __future__ import annotations

import asyncio
import logging

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError

from service.config import Settings

log = logging.getLogger("service.db")


def make_client(url: str, settings: Settings) -> AsyncMongoClient[dict[str, object]]:
    """Build the async client with every call bounded by `mongodb_timeout_ms`.

    Writes wait for a majority of the replica set (a 2xx is never rolled back by a failover) and
    are retried once the driver finds the new primary, within the same time bound.
    """
    return AsyncMongoClient(
        url,
        tz_aware=True,
        w="majority",
        retryWrites=True,
        retryReads=True,
        timeoutMS=settings.mongodb_timeout_ms,
        serverSelectionTimeoutMS=settings.mongodb_timeout_ms,
        connectTimeoutMS=settings.mongodb_timeout_ms,
        appname="vm-inventory",
    )


async def answers(url: str, settings: Settings) -> bool:
    """Whether MongoDB at `url` answers a ping within `mongodb_timeout_ms`."""
    client = make_client(url, settings)
    try:
        await client.admin.command("ping")
        return True
    except PyMongoError:
        return False
    finally:
        await client.close()


async def wait_until_reachable(
    database: AsyncDatabase[dict[str, object]], retry_seconds: float = 1.0
) -> None:
    """Ping until MongoDB answers (the service may start before its database)."""
    while True:
        try:
            await database.command("ping")
            return
        except PyMongoError as exc:
            log.warning("MongoDB not reachable yet (%s); retrying", type(exc).__name__)
            await asyncio.sleep(retry_seconds)
