"""The command line: `python -m service serve | migrate | apikey ...`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import signal
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import uvicorn

from service.config import Settings
from service.domain.apikeys import Scope
from service.domain.errors import DomainError
from service.http.server import freeze_startup_heap, run_workers, uvicorn_options
from service.storage.api_keys import ApiKeyRepository
from service.storage.client import answers, make_client
from service.storage.migrations import cli as migrate_cli
from service.storage.mongod import LocalMongod


@contextlib.contextmanager
def database_url(settings: Settings, quiet: bool = False) -> Iterator[str]:
    """MONGODB_URL when set; otherwise the bundled mongod under DATA_DIR, stopped on exit."""
    if settings.mongodb_url:
        yield settings.mongodb_url
        return
    mongod = LocalMongod(settings.data_dir.resolve() / "mongo", settings.local_mongod_port)
    if not quiet:
        print(f"starting local mongod on 127.0.0.1:{mongod.port} (data in {mongod.dbpath})")
    url = mongod.start()
    try:
        yield url
    finally:
        mongod.stop()


@contextlib.asynccontextmanager
async def key_repository(settings: Settings, url: str) -> AsyncIterator[ApiKeyRepository]:
    """An ApiKeyRepository over a client of its own, closed on exit."""
    client = make_client(url, settings)
    try:
        yield ApiKeyRepository(client[settings.mongodb_db])
    finally:
        await client.close()


async def _dev_key(settings: Settings, url: str, kept: str) -> str:
    async with key_repository(settings, url) as repo:
        if kept and await repo.matches("dev", kept):
            return kept
        with contextlib.suppress(DomainError):
            await repo.revoke("dev")
        return await repo.create("dev", Scope.ADMIN)


def ensure_dev_key(settings: Settings, url: str, path: Path) -> str:
    """The admin key named `dev` whose token is kept in `path`, created when missing or stale."""
    kept = path.read_text().strip() if path.exists() else ""
    token = asyncio.run(_dev_key(settings, url, kept))
    if token != kept:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(token + "\n")
    return token


def apikey(settings: Settings, args: argparse.Namespace) -> int:
    """Create, list or revoke API keys."""

    async def run(url: str) -> int:
        async with key_repository(settings, url) as repo:
            if args.action == "create":
                token = await repo.create(args.name, Scope(args.scope))
                print(f"created API key {args.name!r} ({args.scope}); its token, shown once:")
                print(token)
            elif args.action == "list":
                for key in await repo.list():
                    used = key.last_used_at.isoformat() if key.last_used_at else "never"
                    print(f"{key.name}\t{key.scope.value}\tcreated {key.created_at.isoformat()}"
                          f"\tlast used {used}")  # fmt: skip
            else:
                await repo.revoke(args.name)
                print(f"revoked API key {args.name!r}")
        return 0

    with database_url(settings, quiet=True) as url:
        try:
            return asyncio.run(run(url))
        except DomainError as exc:
            print(f"error: {exc.detail}", file=sys.stderr)
            return 1


def serve(settings: Settings) -> int:
    """Check (or, with MIGRATE_ON_START, apply) migrations, then run the HTTP server."""
    from service.http.app import create_app
    from service.http.context import configure_logging

    configure_logging(settings.log_level)
    with database_url(settings) as url:
        settings = settings.model_copy(update={"mongodb_url": url})
        startup_check = None
        if not asyncio.run(answers(url, settings)):
            # Start anyway (not ready): the app checks migrations once MongoDB answers.
            print(
                f"MongoDB at {url} does not answer yet: serving, not ready until it answers "
                "and its migrations check out",
                file=sys.stderr,
                flush=True,
            )
            startup_check = functools.partial(migrate_cli.check_on_start, settings, url)
        elif problem := asyncio.run(migrate_cli.check_on_start(settings, url)):
            print(f"error: not serving: {problem}", file=sys.stderr, flush=True)
            return 1
        if settings.dev_api_key_file is not None and startup_check is None:
            token = ensure_dev_key(settings, url, settings.dev_api_key_file)
            print(
                f"development API key 'dev' (admin), kept in {settings.dev_api_key_file}:\n"
                f"  curl -H 'Authorization: Bearer {token}' "
                f"http://{settings.host}:{settings.port}/api/v1/vms",
                flush=True,
            )
        workers = f" with {settings.workers} workers" if settings.workers > 1 else ""
        print(
            f"serving on http://{settings.host}:{settings.port}{workers}  (docs: /schema)",
            flush=True,
        )
        if settings.workers > 1:
            run_workers(settings, url, deferred_check=startup_check is not None)
            return 0
        app = create_app(settings, startup_check)
        freeze_startup_heap()
        # uvicorn re-raises SIGTERM/SIGINT after its graceful shutdown; a no-op handler lets the
        # re-raised signal return here so the local mongod stops and the exit code is 0.
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: None)
        uvicorn.run(app, **uvicorn_options(settings))
    return 0


def migrate(args: argparse.Namespace, settings: Settings) -> int:
    """Run `migrate status|up|down` against MONGODB_URL (or the local mongod serve would use)."""
    with database_url(settings) as url:
        return asyncio.run(migrate_cli.run(args, settings, url))


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run one command."""
    parser = argparse.ArgumentParser(prog="python -m service")
    commands = parser.add_subparsers(dest="command", required=True)
    serve_parser = commands.add_parser("serve", help="run the HTTP API")
    serve_parser.add_argument(
        "--workers", type=int, help="server processes sharing the port (default: WORKERS, 1)"
    )
    migrate_cli.add_parser(commands)
    keys = commands.add_parser("apikey", help="manage API keys").add_subparsers(
        dest="action", required=True
    )
    create = keys.add_parser("create", help="create a key; prints its token once, on the last line")
    create.add_argument("--name", required=True)
    create.add_argument("--scope", required=True, choices=[s.value for s in Scope])
    keys.add_parser("list", help="list keys (never their tokens)")
    keys.add_parser("revoke", help="delete a key").add_argument("name")
    args = parser.parse_args(argv)
    settings = Settings()
    if args.command == "serve":
        if args.workers is not None:
            if args.workers < 1:
                parser.error("--workers must be at least 1")
            settings = settings.model_copy(update={"workers": args.workers})
        return serve(settings)
    if args.command == "migrate":
        return migrate(args, settings)
    if args.command == "apikey":
        return apikey(settings, args)
    parser.error(f"unknown command {args.command}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
