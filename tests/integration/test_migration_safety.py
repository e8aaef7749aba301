"""Rolling back under running servers: heartbeats, refusal, the schema guard, failure messages."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pymongo import MongoClient
from pymongo.asynchronous.database import AsyncDatabase

from service.__main__ import main
from service.storage.migrations.guard import SchemaGuard, needed_version, schema_problem
from service.storage.migrations.lock import LOCK_COLLECTION, MigrationLock
from service.storage.migrations.runner import HISTORY, MigrationFailed, MigrationRefused, Migrator
from service.storage.migrations.servers import SERVERS, live_servers

NEWEST = needed_version()


@contextlib.asynccontextmanager
async def running_guard(
    db: AsyncDatabase[dict[str, Any]], needs: int = NEWEST
) -> AsyncIterator[SchemaGuard]:
    """A server's schema guard (checks and heartbeats every 0.1 s) until exit."""
    guard = SchemaGuard(db, needs, check_seconds=0.1)
    task = asyncio.create_task(guard.run())
    try:
        await until(lambda: _heartbeat_of(db, guard.id))
        yield guard
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await guard.stop()


async def _heartbeat_of(db: AsyncDatabase[dict[str, Any]], ident: str) -> bool:
    return await db[SERVERS].count_documents({"_id": ident}) == 1


async def until(condition: Callable[[], Awaitable[bool] | bool], limit: float = 30.0) -> None:
    """Wait for `condition` (a bound against hanging, not a timing assertion)."""
    deadline = time.monotonic() + limit
    while True:
        result = condition()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def collections(db: AsyncDatabase[dict[str, Any]]) -> set[str]:
    """The collection names the scripts manage (not the runner's own)."""
    return {n for n in await db.list_collection_names() if not n.startswith("schema_")}


async def test_down_is_refused_while_a_live_server_needs_a_higher_version(
    fresh_db: AsyncDatabase[dict[str, Any]],
) -> None:
    migrator = Migrator(fresh_db)
    await migrator.up()
    before = await collections(fresh_db)
    async with running_guard(fresh_db) as guard:
        for to in range(NEWEST):  # every target below what the server needs
            with pytest.raises(MigrationRefused) as caught:
                await migrator.down(to=to)
            message = str(caught.value)
            assert f"pid {os.getpid()}" in message
            assert socket.gethostname() in message
            assert f"needs version {NEWEST}" in message
            assert "--force" in message
        assert await collections(fresh_db) == before
        assert (await migrator.status()).current == NEWEST
        assert guard.reason is None  # a refused down never stopped the server
        assert await fresh_db[LOCK_COLLECTION].count_documents({}) == 0
        # Down to what the server needs is no rollback of anything it needs: allowed.
        assert await migrator.down(to=NEWEST) == []


def test_the_cli_exits_non_zero_naming_the_server(
    settings: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    name = f"mig_{uuid.uuid4().hex[:10]}"
    monkeypatch.setenv("MONGODB_URL", settings.mongodb_url)
    monkeypatch.setenv("MONGODB_DB", name)
    sync: MongoClient[dict[str, Any]] = MongoClient(settings.mongodb_url)
    try:
        assert main(["migrate", "up"]) == 0
        now = datetime.now(UTC)
        sync[name][SERVERS].insert_one(
            {
                "_id": "web-7:4242:abcdef", "host": "web-7", "pid": 4242,
                "needs_version": NEWEST, "started_at": now, "last_seen": now,
                "expires_at": now + timedelta(hours=1),
            }
        )  # fmt: skip
        capsys.readouterr()
        assert main(["migrate", "down", "--to", "0"]) == 1
        err = capsys.readouterr().err
        assert "web-7 pid 4242" in err
        assert f"needs version {NEWEST}" in err
        assert "vms" in sync[name].list_collection_names()
        assert main(["migrate", "status"]) == 0
        assert "web-7 pid 4242" in capsys.readouterr().out
    finally:
        sync.drop_database(name)
        sync.close()


async def test_stale_heartbeats_do_not_block(fresh_db: AsyncDatabase[dict[str, Any]]) -> None:
    migrator = Migrator(fresh_db)
    await migrator.up()
    now = datetime.now(UTC)
    await fresh_db[SERVERS].insert_many(
        [
            {  # died a minute ago: its lease ran out
                "_id": "gone", "host": "h", "pid": 1, "needs_version": NEWEST,
                "started_at": now - timedelta(hours=1), "last_seen": now - timedelta(minutes=1),
                "expires_at": now - timedelta(seconds=55),
            },
            {  # died two days ago: forgotten
                "_id": "long-gone", "host": "h", "pid": 2, "needs_version": NEWEST,
                "started_at": now - timedelta(days=3), "last_seen": now - timedelta(days=2),
                "expires_at": now - timedelta(days=2),
            },
        ]
    )  # fmt: skip
    assert await live_servers(fresh_db) == []
    assert await fresh_db[SERVERS].distinct("_id") == ["gone"]
    assert await migrator.down(to=0) == list(range(NEWEST, 0, -1))


async def test_forced_down_stops_the_server_before_dropping_and_it_recovers_after_up(
    tmp_path: Path, fresh_db: AsyncDatabase[dict[str, Any]]
) -> None:
    # Each down() records what the server's heartbeat said when it ran.
    where = tmp_path / "scripts"
    where.mkdir()
    for version in (1, 2):
        (where / f"000{version}_record_servers.py").write_text(
            '"""Test script."""\n\n\n'
            "async def up(db, session):\n"
            "    await db.things.insert_one({'v': __name__}, session=session)\n\n\n"
            "async def down(db, session):\n"
            "    server = await db.schema_servers.find_one()\n"
            "    await db.seen.insert_one({'v': __name__, 'ok': server['schema_ok'],"
            " 'stopped_for': server['stopped_for']})\n"
        )
    migrator = Migrator(fresh_db, where, owner="downer")
    await migrator.up()
    async with running_guard(fresh_db, needs=2) as guard:
        guard.lease_seconds = 60  # the drain below must be ended by the request, not the lease
        guard.in_flight = 1  # a request that passed the check before the mark
        down = asyncio.create_task(migrator.down(to=0, force=True))
        await until(lambda: guard.reason is not None)
        assert "rolling the schema back below version 2" in guard.reason
        await asyncio.sleep(0.5)
        assert not down.done()  # still waiting for the request in flight
        assert await fresh_db.seen.count_documents({}) == 0
        guard.in_flight = 0
        assert await down == [2, 1]
        seen = await fresh_db.seen.find({}, {"_id": 0}).to_list()
        assert all(s["ok"] is False and s["stopped_for"] == "downer" for s in seen), seen
        await until(
            lambda: guard.reason is not None and "lacks version(s) 0001, 0002" in guard.reason
        )
        assert "migrate up" in guard.reason

        await migrator.up()
        await until(lambda: guard.reason is None)


async def test_a_dead_runners_mark_neither_stops_servers_nor_comes_back(
    fresh_db: AsyncDatabase[dict[str, Any]],
) -> None:
    await Migrator(fresh_db).up()
    lock = fresh_db[LOCK_COLLECTION]
    await lock.insert_one(
        {"_id": "migrations", "owner": "dead", "expires_at": datetime(2000, 1, 1),
         "going_down_to": 0}
    )  # fmt: skip
    assert await schema_problem(fresh_db, NEWEST) == (None, None)
    taker = MigrationLock(fresh_db, owner="next")
    async with taker:
        doc = await lock.find_one()
        assert doc is not None and doc["owner"] == "next"
        assert "going_down_to" not in doc
        assert await schema_problem(fresh_db, NEWEST) == (None, None)


async def test_serve_start_check_refuses_during_a_down(
    fresh_db: AsyncDatabase[dict[str, Any]], settings: Any
) -> None:
    from service.storage.migrations.cli import check_on_start

    await Migrator(fresh_db).up()
    mine = settings.model_copy(update={"mongodb_db": fresh_db.name, "migrate_on_start": False})
    assert await check_on_start(mine, settings.mongodb_url) is None
    async with MigrationLock(fresh_db, owner="downer") as lock:
        assert await lock.mark_going_down(0)
        problem = await check_on_start(mine, settings.mongodb_url)
        assert problem is not None and "downer" in problem


def _vm(name: str) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "name": name, "status": "running", "os": "debian-12", "cpu_cores": 2,
        "memory_mib": 2048, "storage_gib": 20, "labels": {}, "description": "",
        "revision": 1, "created_at": now, "updated_at": now,
    }  # fmt: skip


@pytest.mark.parametrize("transactions", [True, False])
async def test_a_failed_up_names_the_duplicates_says_what_stayed_and_can_be_retried(
    fresh_db: AsyncDatabase[dict[str, Any]], transactions: bool
) -> None:
    # As after a rollback under a running server: `vms` without validator or unique index.
    names = ["web-1", "Web-1", "WEB-1", "db", "DB", "solo"]
    ids = (await fresh_db.vms.insert_many([_vm(n) for n in names])).inserted_ids
    migrator = Migrator(fresh_db, transactions=transactions)
    with pytest.raises(MigrationFailed) as caught:
        await migrator.up()
    message = str(caught.value)
    assert caught.value.version == 1
    assert "0001_create_vms" in message
    assert "history: not written" in message
    if transactions:
        assert "rolled back: every write it made inside the transaction" in message
        assert "not rolled back (ran outside the transaction, still in place)" in message
    else:
        assert "rolled back: nothing" in message
    assert "vms: validator set" in message  # collMod ran, outside any transaction
    assert "vms: index name_unique_ci" not in message  # the failed build left no index
    assert "unique index name_unique_ci on vms (name ignoring case)" in message
    for dup in ids[:5]:
        assert str(dup) in message
    assert str(ids[5]) not in message
    assert "run `python -m service migrate up` again" in message
    assert await fresh_db[LOCK_COLLECTION].count_documents({}) == 0
    assert await fresh_db[HISTORY].count_documents({}) == 0

    # Fix the cause: the retry applies everything.
    await fresh_db.vms.delete_many({"_id": {"$in": [ids[1], ids[2], ids[4]]}})
    assert await migrator.up() == list(range(1, NEWEST + 1))
    # Names unique per project from 0010 on, every VM in `default`.
    found = await fresh_db.vms.index_information()
    assert "project_name_unique_live" in found and "name_unique_live" not in found
    assert await fresh_db.vms.distinct("project") == ["default"]


FAILING_DOWN = (
    "async def down(db, session):\n"
    "    await db.command('collMod', 'things', validator={'$jsonSchema': {'required': ['x']}})\n"
    "    await db.things.create_index('x', name='x_1')\n"
    "    await db.things.insert_one({'x': 1}, session=session)\n"
    "    raise RuntimeError('boom')\n"
)


async def test_a_failed_down_lists_the_changes_it_left(
    tmp_path: Path, fresh_db: AsyncDatabase[dict[str, Any]]
) -> None:
    where = tmp_path / "scripts"
    where.mkdir()
    (where / "0001_break_down.py").write_text(
        '"""Test script."""\n\n\n'
        "async def up(db, session):\n"
        "    await db.create_collection('things', session=session)\n\n\n" + FAILING_DOWN
    )
    migrator = Migrator(fresh_db, where)
    await migrator.up()
    with pytest.raises(MigrationFailed) as caught:
        await migrator.down(to=0)
    message = str(caught.value)
    assert "failed while rolling back (RuntimeError: boom)" in message
    assert "the version stays applied" in message
    assert "things: validator set; things: index x_1 created" in message
    assert "run `python -m service migrate down --to 0` again" in message
    assert await fresh_db.things.count_documents({}) == 0  # the insert was in the transaction
    assert (await migrator.status()).current == 1
