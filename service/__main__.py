"""The command line: `python -m service serve | migrate | apikey ...`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Iterator

import uvicorn

from service.config import Settings
from service.db import LocalMongod
from service.migrations import cli as migrate_cli


@contextlib.contextmanager
def database_url(settings: Settings) -> Iterator[str]:
    """MONGODB_URL when set; otherwise the bundled mongod under DATA_DIR, stopped on exit."""
    if settings.mongodb_url:
        yield settings.mongodb_url
        return
    mongod = LocalMongod(settings.data_dir.resolve() / "mongo", settings.local_mongod_port)
    print(f"starting local mongod on 127.0.0.1:{mongod.port} (data in {mongod.dbpath})")
    url = mongod.start()
    try:
        yield url
    finally:
        mongod.stop()


def serve(settings: Settings) -> int:
    """Check (or, with MIGRATE_ON_START, apply) migrations, then run the HTTP server."""
    from service.app import create_app

    with database_url(settings) as url:
        settings = settings.model_copy(update={"mongodb_url": url})
        if problem := asyncio.run(migrate_cli.check_on_start(settings, url)):
            print(f"error: not serving: {problem}", file=sys.stderr, flush=True)
            return 1
        app = create_app(settings)
        print(f"serving on http://{settings.host}:{settings.port}  (docs: /schema)", flush=True)
        # uvicorn re-raises SIGTERM/SIGINT after its graceful shutdown; a no-op handler lets the
        # re-raised signal return here so the local mongod stops and the exit code is 0.
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: None)
        uvicorn.run(
            app,
            host=settings.host,
            port=settings.port,
            log_level=settings.log_level.lower(),
            access_log=False,
            timeout_graceful_shutdown=10,
        )
    return 0


def migrate(args: argparse.Namespace, settings: Settings) -> int:
    """Run `migrate status|up|down` against MONGODB_URL (or the local mongod serve would use)."""
    with database_url(settings) as url:
        return asyncio.run(migrate_cli.run(args, settings, url))


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run one command."""
    parser = argparse.ArgumentParser(prog="python -m service")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="run the HTTP API")
    migrate_cli.add_parser(commands)
    args = parser.parse_args(argv)
    settings = Settings()
    if args.command == "serve":
        return serve(settings)
    if args.command == "migrate":
        return migrate(args, settings)
    parser.error(f"unknown command {args.command}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
