"""Apply and roll back the numbered migration scripts, with a lock, a history and checksums."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from service.storage.migrations import failure, servers
from service.storage.migrations.lock import MigrationLock
from service.storage.migrations.scripts import SCRIPTS_DIR, Script, discover

HISTORY = "schema_migrations"


class MigrationError(Exception):
    """A migration command could not do what was asked; the message says why and what to do."""


class MigrationRefused(MigrationError):
    """The scripts and the database's history disagree; nothing was run."""


class MigrationFailed(MigrationError):
    """A script raised; its history was not written; the message says what was rolled back."""

    def __init__(self, version: int, message: str) -> None:
        """Name the failed version."""
        super().__init__(message)
        self.version = version


@dataclass(frozen=True)
class Entry:
    """One version in `status`: its state, and when it was applied."""

    version: int
    name: str
    state: str  # applied | pending | changed | missing
    applied_at: datetime | None = None
    duration_ms: int | None = None


@dataclass
class Status:
    """Where a database stands against the scripts."""

    entries: list[Entry] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    scripts: list[Script] = field(default_factory=list)
    out_of_order: list[str] = field(default_factory=list)  # also in problems; down may fix them

    @property
    def current(self) -> int:
        """The highest applied version (0 for none)."""
        return max((e.version for e in self.entries if e.state != "pending"), default=0)

    @property
    def newest(self) -> int:
        """The highest script version (0 for none)."""
        return max((s.version for s in self.scripts), default=0)

    @property
    def pending(self) -> list[Script]:
        """Scripts not applied yet, in order."""
        todo = {e.version for e in self.entries if e.state == "pending"}
        return [s for s in self.scripts if s.version in todo]


class Migrator:
    """Runs the scripts of `scripts_dir` against `db` under the migration lock."""

    def __init__(
        self,
        db: AsyncDatabase[dict[str, Any]],
        scripts_dir: Path = SCRIPTS_DIR,
        *,
        owner: str | None = None,
        lease_seconds: float = 30.0,
        wait_seconds: float = 60.0,
        report: Callable[[str], None] = lambda _line: None,
        transactions: bool | None = None,
    ) -> None:
        """Describe a runner; `report` receives one line per script run.

        `transactions` None asks the server whether it supports them; False runs every script
        without a session, as on a standalone server.
        """
        self.db = db
        self.scripts_dir = scripts_dir
        self.report = report
        self.lock = MigrationLock(db, owner, lease_seconds, wait_seconds)
        self._transactions = transactions

    async def status(self) -> Status:
        """Every known version, applied or pending, and every problem found."""
        scripts, problems = discover(self.scripts_dir)
        by_version = {s.version: s for s in scripts}
        history = {doc["_id"]: doc async for doc in self.db[HISTORY].find()}
        status = Status(problems=problems, scripts=scripts)
        for version in sorted(by_version.keys() | history.keys()):
            script, doc = by_version.get(version), history.get(version)
            if doc is None:
                assert script is not None
                status.entries.append(Entry(version, script.name, "pending"))
                continue
            state = "applied"
            if script is None:
                state = "missing"
                problems.append(
                    f"version {version:04d} ({doc['name']}) is applied but its script is missing"
                )
            elif doc["checksum"] != script.checksum:
                state = "changed"
                problems.append(
                    f"{script.path.name} changed after it was applied (checksum "
                    f"{doc['checksum'][:12]} applied, {script.checksum[:12]} now): restore it and "
                    "put the change in a new migration"
                )
            name = script.name if script else doc["name"]
            status.entries.append(
                Entry(version, name, state, doc["applied_at"], doc.get("duration_ms"))
            )
        for script in status.pending:
            if script.version < status.current:
                status.out_of_order.append(
                    f"{script.name} is pending but the newer version {status.current:04d} is "
                    "applied: roll back with "
                    f"`python -m service migrate down --to {script.version - 1}` first"
                )
        problems += status.out_of_order
        return status

    async def _checked_status(self, rolling_back: bool = False) -> Status:
        status = await self.status()
        ignored = status.out_of_order if rolling_back else []
        if problems := [p for p in status.problems if p not in ignored]:
            raise MigrationRefused(
                "refusing to migrate:\n" + "\n".join(f"  - {p}" for p in problems)
            )
        return status

    async def up(self, to: int | None = None) -> list[int]:
        """Apply pending scripts in order up to version `to` (default: all); return the versions."""
        async with self.lock:
            status = await self._checked_status()
            target = status.newest if to is None else self._check_target(status, to)
            if target < status.current:
                raise MigrationError(
                    f"the database is at version {status.current}, above {target}: "
                    f"use `python -m service migrate down --to {target}`"
                )
            rerun = "up" if to is None else f"up --to {to}"
            done = []
            for script in status.pending:
                if script.version <= target:
                    await self._run(script, "up", rerun)
                    done.append(script.version)
            return done

    async def down(self, to: int, *, force: bool = False) -> list[int]:
        """Roll back applied scripts above version `to`, newest first; return the versions.

        Refused while live servers need a version above `to`, unless `force`: then they are told
        to stop using the database first, and the rollback waits until each has stopped (or gone).
        """
        async with self.lock:
            status = await self._checked_status(rolling_back=True)
            self._check_target(status, to)
            if to > status.current:
                raise MigrationError(
                    f"the database is at version {status.current}, below {to}: "
                    f"use `python -m service migrate up --to {to}`"
                )
            applied = {e.version for e in status.entries if e.state == "applied"}
            todo = [s for s in reversed(status.scripts) if s.version > to and s.version in applied]
            if not todo:
                return []
            await self._refuse_while_needed(to, force)
            if not await self.lock.mark_going_down(to):
                raise MigrationError("lost the migration lock (lease expired); stopping, run again")
            # A server may have started between the check and the mark: check again.
            needing = await self._refuse_while_needed(to, force)
            if stuck := await servers.wait_stopped(self.db, needing, self.lock):
                raise MigrationError(
                    "servers did not stop using the database in time: "
                    + "; ".join(s.describe() for s in stuck)
                    + ". Nothing was rolled back."
                )
            rerun = f"down --to {to}" + (" --force" if force else "")
            done = []
            try:
                for script in todo:
                    await self._run(script, "down", rerun)
                    done.append(script.version)
            except MigrationError as exc:
                if needing:
                    exc.add_note(
                        f"{len(needing)} live server(s) stopped using the database for this "
                        "rollback; each serves again by itself while the versions it needs "
                        "are applied"
                    )
                raise
            if needing:
                self.report(f"{len(needing)} live server(s) stopped using the database")
            return done

    @staticmethod
    def _check_target(status: Status, to: int) -> int:
        """`to` when it is a version of these scripts (0: none), else MigrationError."""
        if not 0 <= to <= status.newest:
            raise MigrationError(f"no version {to}: versions are 0 to {status.newest}")
        return to

    async def _refuse_while_needed(self, to: int, force: bool) -> list[servers.Server]:
        """The live servers needing more than `to`; with any and no `force`, refuse."""
        needing = [s for s in await servers.live_servers(self.db) if s.needs_version > to]
        if needing and not force:
            raise MigrationRefused(
                f"refusing to roll back to version {to}: live servers need a higher version:\n"
                + "\n".join(f"  - {s.describe()}" for s in needing)
                + "\nStop them (or deploy code needing at most this version) first, or pass "
                "--force to make them stop using the database (they answer 503) while it runs."
            )
        return needing

    async def transactions_supported(self) -> bool:
        """True on a replica set or sharded cluster, where multi-document transactions exist."""
        if self._transactions is None:
            hello = await self.db.client.admin.command("hello")
            self._transactions = "setName" in hello or hello.get("msg") == "isdbgrid"
        return self._transactions

    async def _run(self, script: Script, direction: str, rerun: str) -> None:
        """Run one script's up() or down() and write its history, in one transaction if possible;
        a failure's message says to run `migrate <rerun>` again."""
        if self.lock.lost:
            raise MigrationError("lost the migration lock (lease expired); stopping, run again")
        in_txn = await self.transactions_supported()
        verb = "applying" if direction == "up" else "rolling back"

        async def body(session: AsyncClientSession | None) -> None:
            started = time.perf_counter()
            await getattr(script.load(), direction)(self.db, session)
            if direction == "down":
                await self.db[HISTORY].delete_one({"_id": script.version}, session=session)
                return
            record = {
                "_id": script.version,
                "name": script.name,
                "checksum": script.checksum,
                "applied_at": datetime.now(UTC),
                "duration_ms": round((time.perf_counter() - started) * 1000),
            }
            await self.db[HISTORY].insert_one(record, session=session)

        before = await failure.shape(self.db)
        started = time.perf_counter()
        try:
            if in_txn:
                async with self.db.client.start_session() as session:
                    await session.with_transaction(body)
            else:
                await body(None)
        except Exception as exc:
            explained = await failure.explain(
                self.db, script.name, script.load(), direction, exc, before, in_txn, rerun
            )
            raise MigrationFailed(script.version, explained) from exc
        took = round((time.perf_counter() - started) * 1000)
        self.report(f"{verb} {script.name} ... done in {took} ms")


async def upgrade(
    db: AsyncDatabase[dict[str, Any]], to: int | None = None, scripts_dir: Path = SCRIPTS_DIR
) -> list[int]:
    """Apply pending migrations (up to `to`) under the lock: the entry point for test fixtures."""
    return await Migrator(db, scripts_dir).up(to)
