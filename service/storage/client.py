"""The MongoDB client: its options and time bounds, and the wait for MongoDB to be ready."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.errors import PyMongoError
from pymongo.monitoring import CommandListener

from service.config import Settings

log = logging.getLogger("service.db")


def make_client(
    url: str, settings: Settings, listeners: Sequence[CommandListener] = ()
) -> AsyncMongoClient[dict[str, object]]:
    """Build the async client with every call bounded by `mongodb_timeout_ms` (`listeners`: the
    command spans of service.storage.tracing when tracing is on).

    Writes wait for a majority of the replica set (a 2xx is never rolled back by a failover) and
    are retried once the driver finds the new primary, within the same time bound.
    """
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(
        url,
        tz_aware=True,
        w="majority",
        retryWrites=True,
        retryReads=True,
        timeoutMS=settings.mongodb_timeout_ms,
        serverSelectionTimeoutMS=settings.mongodb_timeout_ms,
        connectTimeoutMS=settings.mongodb_timeout_ms,
        appname="vm-inventory",
        event_listeners=list(listeners),
    )
    if listeners:  # tracing on: no command events outside a sampled request's spans
        from service.storage.tracing import only_in_recorded_spans

        only_in_recorded_spans(client)
    return client


def ready_for_transactions(hello: Mapping[str, Any]) -> bool:
    """Whether a `hello` reply comes from a writable primary that supports sessions."""
    return bool(hello.get("isWritablePrimary")) and "logicalSessionTimeoutMinutes" in hello


async def not_ready(url: str, settings: Settings) -> str | None:
    """Why MongoDB at `url` cannot serve yet (None: a writable primary with sessions).

    Asks over a client of its own, closed after: a mongod started with --replSet but not yet
    initiated answers pings, and a connection opened to it then never supports sessions. Kept
    in a long-lived client's pool, it would fail every transaction that later checks it out.
    """
    client = make_client(url, settings)
    try:
        hello = await client.admin.command("hello")
    except PyMongoError as exc:
        return f"MongoDB does not answer ({type(exc).__name__})"
    finally:
        await client.close()
    if ready_for_transactions(hello):
        return None
    return "MongoDB answers but is no writable primary with sessions (replica set not initiated?)"


async def answers(url: str, settings: Settings) -> bool:
    """Whether MongoDB at `url` is ready to serve (see `not_ready`) within `mongodb_timeout_ms`."""
    return await not_ready(url, settings) is None


async def wait_until_ready(url: str, settings: Settings, retry_seconds: float = 1.0) -> None:
    """Probe until MongoDB at `url` is ready (the service may start before its database)."""
    reported = None
    while (problem := await not_ready(url, settings)) is not None:
        if problem != reported:
            log.warning("%s; retrying", problem)
            reported = problem
        await asyncio.sleep(retry_seconds)
