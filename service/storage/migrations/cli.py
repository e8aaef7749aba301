"""`python -m service migrate status|up|down`, and serve's check for pending migrations."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError

from service.config import Settings, redacted
from service.storage.migrations import servers
from service.storage.migrations.guard import UP_COMMAND, needed_version, schema_problem
from service.storage.migrations.lock import LockBusy
from service.storage.migrations.runner import MigrationError, Migrator, Status
from service.storage.migrations.scripts import SCRIPTS_DIR


def add_parser(commands: Any, formatter_class: type[argparse.HelpFormatter]) -> None:
    """Add the `migrate` command and its subcommands to the CLI's subparsers."""
    style = {"formatter_class": formatter_class}
    migrate = commands.add_parser(
        "migrate", help="show, apply or roll back schema migrations", **style
    )
    actions = migrate.add_subparsers(dest="action", required=True)
    actions.add_parser("status", help="every version, applied or pending, and any problem", **style)
    up = actions.add_parser("up", help="apply pending migrations", **style)
    up.add_argument("--to", type=int, help="stop at this version (default: the newest)")
    down = actions.add_parser("down", help="roll back migrations above a version", **style)
    down.add_argument("--to", type=int, required=True, help="version to go back to (0: all)")
    down.add_argument(
        "--force",
        action="store_true",
        help="even while live servers need a higher version (they answer 503 until `up`)",
    )
    for parser in (up, down):
        parser.add_argument(
            "--wait", type=float, default=60.0, help="seconds to wait for another runner's lock"
        )
    for parser in actions.choices.values():
        parser.add_argument("--scripts-dir", type=Path, default=SCRIPTS_DIR, help=argparse.SUPPRESS)


def _client(url: str, settings: Settings) -> AsyncMongoClient[dict[str, Any]]:
    # No per-operation timeout: index builds on big collections take longer than API calls may.
    return AsyncMongoClient(
        url,
        tz_aware=True,
        serverSelectionTimeoutMS=settings.mongodb_timeout_ms,
        appname="vm-inventory-migrate",
    )


def format_status(status: Status, db_name: str, live: Sequence[servers.Server] = ()) -> str:
    """The text `migrate status` prints."""
    pending = len(status.pending)
    summary = "up to date" if not pending else f"{pending} pending"
    lines = [f"database {db_name}: version {status.current} of {status.newest} ({summary})"]
    for entry in status.entries:
        line = f"  {entry.name:<40} {entry.state:<8}"
        if entry.applied_at is not None:
            line += f" {entry.applied_at:%Y-%m-%dT%H:%M:%SZ} ({entry.duration_ms} ms)"
        lines.append(line.rstrip())
    if not status.entries:
        lines.append("  (no migration scripts)")
    lines += ["live servers:", *(f"  - {s.describe()}" for s in live)] if live else []
    lines += ["problems:", *(f"  - {p}" for p in status.problems)] if status.problems else []
    return "\n".join(lines)


async def run(args: argparse.Namespace, settings: Settings, url: str) -> int:
    """Run one `migrate` action against `url`; return the exit code."""
    client = _client(url, settings)
    try:
        migrator = Migrator(
            client[settings.mongodb_db],
            args.scripts_dir,
            wait_seconds=getattr(args, "wait", 60.0),
            report=lambda line: print(line, flush=True),
        )
        if args.action == "status":
            status = await migrator.status()
            live = await servers.live_servers(migrator.db)
            print(format_status(status, settings.mongodb_db, live))
            return 1 if status.problems else 0
        if args.action == "up":
            done = await migrator.up(args.to)
        else:
            done = await migrator.down(args.to, force=args.force)
        current = (await migrator.status()).current
        print(
            f"{len(done)} migration(s) run; database {settings.mongodb_db} is at version {current}"
        )
        return 0
    except (MigrationError, LockBusy) as exc:
        print("\n".join([f"error: {exc}", *getattr(exc, "__notes__", ())]), file=sys.stderr)
        return 1
    except PyMongoError as exc:
        print(f"error: MongoDB at {redacted(url)} failed: {redacted(str(exc))}", file=sys.stderr)
        return 1
    finally:
        await client.close()


async def check_on_start(settings: Settings, url: str) -> str | None:
    """Serve's startup check: None when serving may start, else the reason it may not.

    With MIGRATE_ON_START the pending migrations are applied first (under the lock, so several
    replicas starting together apply each version once).
    """
    client = _client(url, settings)
    db: AsyncDatabase[dict[str, Any]] = client[settings.mongodb_db]
    try:
        migrator = Migrator(db, report=lambda line: print(line, flush=True))
        if settings.migrate_on_start:
            await migrator.up()
            return None
        status = await migrator.status()
        if status.problems:
            return "migrations have problems:\n" + "\n".join(f"  - {p}" for p in status.problems)
        if status.pending:
            names = ", ".join(s.name for s in status.pending)
            return (
                f"database {settings.mongodb_db} is at version {status.current} but the newest "
                f"migration is {status.newest} (pending: {names}). Run `{UP_COMMAND}` first, "
                "or set MIGRATE_ON_START=true."
            )
        problem, _runner = await schema_problem(db, needed_version())
        return problem
    except (MigrationError, LockBusy) as exc:
        return str(exc)
    except PyMongoError as exc:
        return f"MongoDB at {redacted(url)} failed: {redacted(str(exc))}"
    finally:
        await client.close()
