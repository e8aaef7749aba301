"""`python -m service project recount [--repair]`: each project's stored usage (the ledger)
against a recount of its live VMs, and the repair of any drift (there should be none: every
write changes usage in its own transaction)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from service.config import Settings
from service.domain.errors import DomainError
from service.domain.projects import RESOURCES, Usage
from service.storage.client import make_client
from service.storage.projects import ProjectRepository


def add_parser(commands: Any, formatter: type[argparse.HelpFormatter]) -> None:
    """Add `project recount [--repair]` to the command line's subcommands."""
    projects = commands.add_parser(
        "project", help="check projects' usage", formatter_class=formatter
    ).add_subparsers(dest="action", required=True)
    projects.add_parser(
        "recount",
        help="compare each project's stored usage with a recount of its live VMs; exit 1 on drift",
        formatter_class=formatter,
    ).add_argument(
        "--repair",
        action="store_true",
        help="set a drifted project's usage to the recount (in one transaction with the count)",
    )


async def run(args: argparse.Namespace, settings: Settings, url: str) -> int:
    """Print each project's usage against its recount; 0 when they agree (or `args.repair`
    repaired them), 1 when drift was found and left, or on an error."""
    client = make_client(url, settings)
    try:
        return await _recount(ProjectRepository(client[settings.mongodb_db]), args.repair)
    except DomainError as exc:
        print(f"error: {exc.detail}", file=sys.stderr)
        return 1
    finally:
        await client.close()


async def _recount(repo: ProjectRepository, repair: bool) -> int:
    stored, counted = await repo.stored_and_counted()
    drift = False
    for name in sorted(stored.keys() | counted.keys()):
        live = counted.get(name, Usage())
        if name not in stored:
            print(f"{name}\tno such project, yet {live.vms} live VMs name it")
            drift = True
        elif stored[name] == live:
            print(f"{name}\tok\t{_text(live)}")
        elif not repair:
            print(f"{name}\tdrift\tstored {_text(stored[name])}\tcounted {_text(live)}")
            drift = True
        else:
            # Counted again inside the repair's transaction: a write racing it conflicts.
            before, after = await repo.recount(name)
            print(f"{name}\trepaired\twas {_text(before)}\tnow {_text(after)}")
    if drift:
        print("drift found" + ("" if repair else ": run with --repair to set usage to the recount"))
    return 1 if drift else 0


def _text(usage: Usage) -> str:
    return " ".join(f"{r}={getattr(usage, r)}" for r in RESOURCES)
