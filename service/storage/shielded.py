"""Driver calls that cancellation cannot interrupt: a cancelled caller stops waiting, the call
finishes in a task of its own (bounded by its `pymongo.timeout`), and so does its cleanup.

A cancellation landing inside a PyMongo call or cleanup (a client that went away: Litestar cancels
a streaming response's task group through anyio, again at every await of its cleanup; an
`asyncio.timeout`; shutdown) left cursors open on the server, transactions unaborted and the
driver's pool and topology locks wedged (issue 20). So every call made while a session, cursor or
change stream is held goes through `shielded` or an `InOrder`, and transactions through
`in_transaction`. Time is bounded with `pymongo.timeout` only, never by cancelling a call.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import pymongo
from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import ConnectionFailure, InvalidOperation, PyMongoError

R = TypeVar("R")
log = logging.getLogger("service.db")
KILL_WITHIN_S = 60.0  # MongoDB aborts an idle transaction itself after this (its default)
KILL_RETRY_S = 0.5  # between kills of a session

_RUNNING: set[asyncio.Task[Any]] = set()  # strong references until done (the loop keeps none)


def _start(work: Coroutine[Any, Any, R]) -> asyncio.Task[R]:
    """Run `work` in a task of its own (with the caller's context: its pymongo.timeout too)."""
    task = asyncio.get_running_loop().create_task(work)
    _RUNNING.add(task)
    task.add_done_callback(_finished)
    return task


def _finished(task: asyncio.Task[Any]) -> None:
    _RUNNING.discard(task)
    if not task.cancelled():
        task.exception()  # retrieved: a caller that went away no longer wants it


async def shielded(
    work: Coroutine[Any, Any, R],
    discard: Callable[[R], Coroutine[Any, Any, object]] | None = None,
) -> R:
    """The result of `work`, a driver call finished whatever happens to the caller; should the
    caller be cancelled, what the call opened meanwhile is released with `discard`."""
    task = _start(work)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        if discard is not None:
            task.add_done_callback(lambda done: _release(done, discard))
        raise


def _release(done: asyncio.Task[R], discard: Callable[[R], Coroutine[Any, Any, object]]) -> None:
    if not done.cancelled() and done.exception() is None:
        _start(discard(done.result()))


class InOrder:
    """The calls on one cursor or change stream, each started once the one before has finished
    (even when that one's caller was cancelled): closing never overlaps a read in flight."""

    def __init__(self) -> None:
        """No call yet."""
        self._last: asyncio.Task[Any] | None = None

    def start(self, work: Callable[[], Coroutine[Any, Any, R]]) -> asyncio.Task[R]:
        """Start `work()` after the calls before it; await the task through asyncio.shield."""
        before = self._last

        async def after() -> R:
            if before is not None:
                await asyncio.wait([before])
            return await work()

        task = self._last = _start(after())
        return task

    async def run(self, work: Callable[[], Coroutine[Any, Any, R]]) -> R:
        """The result of `work()`, run after the calls before it, finished whatever happens to
        the caller."""
        return await asyncio.shield(self.start(work))


async def in_transaction(
    client: AsyncMongoClient[Any],
    work: Callable[[AsyncClientSession], Awaitable[R]],
    seconds: float | None,
) -> R:
    """`work` in one transaction of a session of its own, within `seconds` (the driver retries
    transient errors inside that bound), finished whatever happens to the caller.

    When it fails on a timeout or a lost connection, the driver's abort may not have reached
    MongoDB (its deadline is spent), which would hold the transaction, and the VMs it wrote,
    for a minute: the session is then killed as soon as MongoDB answers.
    """

    async def run() -> R:
        async with client.start_session() as session:
            try:
                with pymongo.timeout(seconds):
                    return await session.with_transaction(work)
            except PyMongoError as exc:
                if exc.timeout or isinstance(exc, ConnectionFailure):
                    server_session = getattr(session, "_server_session", None)
                    if server_session is not None:
                        server_session.mark_dirty()  # never reused: it is about to be killed
                    _start(_kill(client, session.session_id))
                raise

    return await shielded(run())


async def _kill(client: AsyncMongoClient[Any], lsid: Any) -> None:
    """Kill a session (aborting its transaction), retried until MongoDB answers or would have
    aborted the transaction on its own; and once more a moment later, for a statement that a
    stalled MongoDB reads from the (closed) connection only after it resumes."""
    loop = asyncio.get_running_loop()
    give_up = loop.time() + KILL_WITHIN_S
    kills = 0
    while True:
        try:
            with pymongo.timeout(client.options.timeout):
                await client.admin.command("killSessions", [lsid])
            kills += 1
            if kills == 2:
                return
        except InvalidOperation:  # the client is closed: the process is ending
            return
        except PyMongoError as exc:
            if loop.time() > give_up:
                log.warning("could not kill a failed transaction's session: %r", exc)
                return
        await asyncio.sleep(KILL_RETRY_S)


async def settle(seconds: float) -> None:
    """Wait, at most `seconds`, for the calls still finishing for callers that went away (before
    the client closes under them)."""
    if _RUNNING:
        await asyncio.wait(list(_RUNNING), timeout=seconds)
