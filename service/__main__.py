"""The command line: `python -m service serve | migrate | apikey | project ...`."""

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

from service.config import Settings, SettingsError, load_settings, redacted
from service.domain.apikeys import Scope
from service.domain.errors import DomainError
from service.http.server import freeze_startup_heap, listen, run_workers, uvicorn_options
from service.storage import recount
from service.storage.api_keys import ApiKeyRepository
from service.storage.client import answers, make_client
from service.storage.migrations import cli as migrate_cli
from service.storage.mongod import LocalMongod, LocalMongodError

# What the shell reports for a process ended by Ctrl-C (128 + SIGINT).
INTERRUPTED = 128 + signal.SIGINT


@contextlib.contextmanager
def database_url(settings: Settings, quiet: bool = False) -> Iterator[str]:
    """MONGODB_URL when set; otherwise the bundled mongod under DATA_DIR, stopped on exit."""
    if settings.mongodb_url:
        yield settings.mongodb_url
        return
    mongod = LocalMongod(settings.data_dir.resolve() / "mongo", settings.local_mongod_port)
    url = mongod.start(announce=None if quiet else functools.partial(print, flush=True))
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
                token = await repo.create(args.name, Scope(args.scope), args.project)
                where = "every project" if args.project is None else ", ".join(args.project)
                print(f"created API key {args.name!r} ({args.scope}, {where}); its token, "
                      "shown once:")  # fmt: skip
                print(token)
            elif args.action == "list":
                for key in await repo.list():
                    used = key.last_used_at.isoformat() if key.last_used_at else "never"
                    where = "every project" if key.projects is None else ",".join(key.projects)
                    print(f"{key.name}\t{key.scope.value}\t{where}"
                          f"\tcreated {key.created_at.isoformat()}\tlast used {used}")  # fmt: skip
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


def project(settings: Settings, args: argparse.Namespace) -> int:
    """`project recount [--repair]` (service.storage.recount)."""
    with database_url(settings, quiet=True) as url:
        return asyncio.run(recount.run(args, settings, url))


def serve(settings: Settings) -> int:
    """Check (or, with MIGRATE_ON_START, apply) migrations, then run the HTTP server."""
    from service.http.app import create_app
    from service.http.logs import configure_logging

    configure_logging(settings.log_level)
    with database_url(settings) as url:
        settings = settings.model_copy(update={"mongodb_url": url})
        startup_check = None
        if not asyncio.run(answers(url, settings)):
            # Start anyway (not ready): the app checks migrations once MongoDB answers.
            print(
                f"MongoDB at {redacted(url)} does not answer yet: serving, not ready until it "
                "answers and its migrations check out",
                file=sys.stderr,
                flush=True,
            )
            startup_check = functools.partial(migrate_cli.check_on_start, settings, url)
        elif problem := asyncio.run(migrate_cli.check_on_start(settings, url)):
            print(f"error: not serving: {problem}", file=sys.stderr, flush=True)
            return 1
        try:
            listener = listen(settings.host, settings.port)
        except OSError as exc:
            reason = exc.strerror or str(exc)
            print(
                f"error: cannot listen on {settings.host}:{settings.port} ({reason}): "
                "stop what uses it, or set PORT (or HOST)",
                file=sys.stderr,
                flush=True,
            )
            return 1
        with listener:
            address = "http://{}:{}".format(
                f"[{settings.host}]" if ":" in settings.host else settings.host,
                listener.getsockname()[1],
            )
            if settings.dev_api_key_file is not None and startup_check is None:
                token = ensure_dev_key(settings, url, settings.dev_api_key_file)
                print(
                    f"development API key 'dev' (admin), kept in {settings.dev_api_key_file}:\n"
                    f"  curl -H 'Authorization: Bearer {token}' {address}/api/v1/vms",
                    flush=True,
                )
            workers = f" with {settings.workers} workers" if settings.workers > 1 else ""
            print(f"serving on {address}{workers}  (docs: /schema)", flush=True)
            if settings.workers > 1:
                run_workers(settings, url, startup_check is not None, listener)
                return 0
            app = create_app(settings, startup_check)
            freeze_startup_heap()
            # uvicorn re-raises SIGTERM/SIGINT after its graceful shutdown; a no-op handler lets
            # the re-raised signal return here so the local mongod stops and the exit code is 0.
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, lambda *_: None)
            uvicorn.Server(uvicorn.Config(app, **uvicorn_options(settings))).run([listener])
    return 0


def migrate(args: argparse.Namespace, settings: Settings) -> int:
    """Run `migrate status|up|down` against MONGODB_URL (or the local mongod serve would use)."""
    with database_url(settings) as url:
        return asyncio.run(migrate_cli.run(args, settings, url))


class HelpFormatter(argparse.HelpFormatter):
    """Help that ends each option's text with its default, when it has one worth saying."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if action.default in (None, False, argparse.SUPPRESS) or "default" in text:
            return text
        return f"{text} (default: %(default)s)"


def build_parser() -> argparse.ArgumentParser:
    """The command line: `serve`, `migrate ...`, `apikey ...` and `project ...`."""
    parser = argparse.ArgumentParser(
        prog="python -m service",
        description="The VM Inventory service. Settings come from the environment and .env.",
        formatter_class=HelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve_parser = commands.add_parser(
        "serve", help="run the HTTP API", formatter_class=HelpFormatter
    )
    serve_parser.add_argument(
        "--workers", type=int, help="server processes sharing the port (default: WORKERS, 1)"
    )
    serve_parser.add_argument(
        "--dev-api-key",
        action="store_true",
        help="keep an admin key named `dev` in DEV_API_KEY_FILE, or DATA_DIR/dev-api-key when "
        "that is unset, created on first run (development only; scripts/run passes it)",
    )
    migrate_cli.add_parser(commands, HelpFormatter)
    keys = commands.add_parser(
        "apikey", help="manage API keys", formatter_class=HelpFormatter
    ).add_subparsers(dest="action", required=True)
    create = keys.add_parser(
        "create",
        help="create a key; prints its token once, on the last line",
        formatter_class=HelpFormatter,
    )
    create.add_argument(
        "--name", required=True, help="the key's name: unique, shown as the actor in VM history"
    )
    create.add_argument(
        "--scope",
        required=True,
        choices=[s.value for s in Scope],
        help="read: GET only; write: also create, change and delete VMs; admin: everything",
    )
    create.add_argument(
        "--project",
        action="append",
        metavar="PROJECT",
        help="restrict the key to this project (repeat for more; each must exist; the first is "
        "where its VMs go when a request names none); without it the key covers every project",
    )
    keys.add_parser("list", help="list keys (never their tokens)", formatter_class=HelpFormatter)
    keys.add_parser(
        "revoke",
        help="delete a key (it stops working within API_KEY_CACHE_SECONDS)",
        formatter_class=HelpFormatter,
    ).add_argument("name", help="the name of the key to delete")
    recount.add_parser(commands, HelpFormatter)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run one command; Ctrl-C exits 130 without a traceback."""
    try:
        return _run(build_parser(), argv)
    except KeyboardInterrupt:
        return INTERRUPTED


def _run(parser: argparse.ArgumentParser, argv: list[str] | None) -> int:
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        for line in exc.lines:
            print(f"error: {line}", file=sys.stderr)
        return 2
    try:
        if args.command == "serve":
            if args.workers is not None:
                if args.workers < 1:
                    parser.error("--workers must be at least 1")
                settings = settings.model_copy(update={"workers": args.workers})
            if args.dev_api_key and settings.dev_api_key_file is None:
                key_file = settings.data_dir / "dev-api-key"
                settings = settings.model_copy(update={"dev_api_key_file": key_file})
            return serve(settings)
        if args.command == "migrate":
            return migrate(args, settings)
        if args.command == "project":
            return project(settings, args)
        return apikey(settings, args)
    except LocalMongodError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
