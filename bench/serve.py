"""Run one bench target app on uvicorn or granian: `python -m bench.serve TARGET --server S`.

Targets: floor, floor-txn, floor-embedded (bench/floor.py), litestar and litestar-tuned
(bench/litestar_app.py; the second with the collector tuned as `serve` tunes it), and service
(`create_app`, for a server `python -m service serve` cannot run itself). Settings come from the
environment like the service's (MONGODB_URL, MONGODB_DB, HOST, PORT, LOG_LEVEL).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from service.config import Settings

ASGI = Callable[..., Awaitable[None]]
SERVERS = ("uvicorn", "granian")
SERVE_MODULES = ("__main__.py", "http/server.py")  # where `serve` picks its server


def service_server() -> str:
    """The server `python -m service serve` runs on: its SERVER setting's default when it has
    one, else granian if the serve code imports it, else uvicorn."""
    field = Settings.model_fields.get("server")
    if field is not None and str(field.default) in SERVERS:
        return str(field.default)
    sources = [Path(__file__).parent.parent / "service" / name for name in SERVE_MODULES]
    code = "\n".join(path.read_text() for path in sources if path.exists())
    return "granian" if re.search(r"^\s*(from|import) granian\b", code, re.MULTILINE) else "uvicorn"


def load(target: str) -> ASGI:
    """The ASGI app of `target`."""
    if target in ("floor", "floor-txn", "floor-embedded"):
        os.environ["FLOOR_TRANSACTION"] = "1" if target == "floor-txn" else "0"
        os.environ["FLOOR_EVENTS"] = "embedded" if target == "floor-embedded" else "collection"
        from bench import floor

        return floor.app
    if target in ("litestar", "litestar-tuned"):
        from bench import litestar_app

        return litestar_app.app
    if target == "service":
        return service_app(Settings())
    raise SystemExit(f"unknown target {target!r}")


def service_app(settings: Settings) -> ASGI:
    """The service's app as `serve` builds it: migrations applied, the dev key made."""
    from service.__main__ import ensure_dev_key
    from service.http.app import create_app
    from service.http.logs import configure_logging
    from service.storage.migrations import cli as migrate_cli

    configure_logging(settings.log_level)
    url = settings.mongodb_url
    assert url, "MONGODB_URL must be set"
    if problem := asyncio.run(migrate_cli.check_on_start(settings, url)):
        raise SystemExit(f"not serving: {problem}")
    if settings.dev_api_key_file is not None:
        ensure_dev_key(settings, url, settings.dev_api_key_file)
    return create_app(settings)


def run_uvicorn(app: ASGI, settings: Settings) -> None:
    """Serve under the service's own uvicorn settings (service.__main__.uvicorn_options)."""
    import uvicorn

    from service.__main__ import uvicorn_options

    uvicorn.run(app, **uvicorn_options(settings))


def run_granian(app: ASGI, settings: Settings) -> None:
    """Serve in-process on granian's embedded server (HTTP/1, one worker, uvloop), no access log."""
    import uvloop
    from granian.constants import HTTPModes, Interfaces
    from granian.server.embed import Server

    server = Server(
        app, address=settings.host, port=settings.port, interface=Interfaces.ASGI,
        http=HTTPModes.http1, websockets=False, log_access=False,
    )  # fmt: skip

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, server.stop)
        await server.serve()

    uvloop.run(main())


def main() -> None:
    """Parse the command line and serve until SIGTERM."""
    parser = argparse.ArgumentParser(prog="python -m bench.serve")
    parser.add_argument(
        "target",
        choices=["floor", "floor-txn", "floor-embedded", "litestar", "litestar-tuned", "service"],
    )
    parser.add_argument("--server", choices=SERVERS, default=None)
    args = parser.parse_args()
    server = args.server or service_server()
    app = load(args.target)
    settings = Settings()
    if args.target == "litestar-tuned":
        # As `serve` does once its app is built (that module imports uvicorn, as serve has).
        from service.http.server import freeze_startup_heap

        freeze_startup_heap()
    runner: dict[str, Any] = {"uvicorn": run_uvicorn, "granian": run_granian}
    runner[server](app, settings)


if __name__ == "__main__":
    main()
