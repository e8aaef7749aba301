"""`serve --workers N`: N uvicorn processes on one port, each running the app from the environment.

The parent (`serve`) starts MongoDB if needed, checks migrations, then exports what every worker
must share (MONGODB_URL, one PAGE_TOKEN_SECRET) before uvicorn spawns the workers; each worker
reads its settings from that environment, exactly as a single-process `serve` would.
"""

from __future__ import annotations

import functools
import gc
import os
import secrets
import shutil
import socket
import tempfile
from typing import Any

import uvicorn
from litestar import Litestar
from uvicorn.supervisors import Multiprocess

from service.config import Settings
from service.http.protocol import bounded_protocol

# Set by the parent when MongoDB did not answer at start: each worker checks migrations later.
DEFERRED_CHECK_ENV = "VM_INVENTORY_DEFERRED_STARTUP_CHECK"


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """The ASGI server settings of `serve` (scripts/bench runs its floor app with the same)."""
    return {
        "host": settings.host,
        "port": settings.port,
        "log_level": settings.log_level.lower(),
        "log_config": None,
        "access_log": False,
        "timeout_graceful_shutdown": 10,
        "timeout_keep_alive": settings.keep_alive_timeout_seconds,
        "http": protocol(settings),
    }


def listen(host: str, port: int) -> socket.socket:
    """A socket listening on host:port, bound before `serve` says it serves (OSError: taken)."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)  # uvicorn's backlog
    except BaseException:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def protocol(settings: Settings) -> type[Any]:
    """The bounded HTTP protocol class for these settings."""
    return bounded_protocol(
        settings.max_header_bytes,
        settings.max_query_bytes,
        header_timeout=settings.header_timeout_seconds,
        body_timeout=settings.body_timeout_seconds,
        max_connections=settings.max_connections,
    )


def worker_app() -> Litestar:
    """The app of one worker process, from the settings its parent exported (uvicorn factory)."""
    from service.http.app import create_app
    from service.http.logs import configure_logging
    from service.http.metrics import forget_dead_workers
    from service.storage.migrations import cli as migrate_cli

    settings = Settings()
    configure_logging(settings.log_level)
    forget_dead_workers()
    startup_check = None
    if os.environ.get(DEFERRED_CHECK_ENV):
        url = os.environ["MONGODB_URL"]  # exported by the parent
        startup_check = functools.partial(migrate_cli.check_on_start, settings, url)
    app = create_app(settings, startup_check)
    freeze_startup_heap()
    return app


def freeze_startup_heap() -> None:
    """Tune the cyclic garbage collector for serving (measured: docs/benchmark-history.md).

    What start-up built (modules, the app, its OpenAPI document: ~75,000 objects) is never
    garbage, yet every full collection walked it: frozen, it is left out (gc.freeze, as the gc
    docs advise before serving). And a collection of the youngest objects every 700 allocations
    ran every few requests (a ListVMs page allocates hundreds), each walking the objects of every
    request in flight: every 10,000 it runs ~14 times less often, holding at most that many more
    objects. Together: ListVMs 733 -> 538 us of CPU, GetVM 349 -> 301 us under wrk -c32.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)


def __getattr__(name: str) -> Any:
    """`WorkerProtocol`: the protocol class built in a worker from its settings (uvicorn `http`)."""
    if name == "WorkerProtocol":
        return protocol(Settings())
    raise AttributeError(name)


def run_workers(
    settings: Settings, url: str, deferred_check: bool, listener: socket.socket
) -> None:
    """Serve with `settings.workers` processes sharing `listener`, until SIGTERM or SIGINT.

    uvicorn's supervisor forwards the signal to every worker, each finishes its in-flight
    requests, and this returns once all have exited.
    """
    os.environ["MONGODB_URL"] = url
    if settings.page_token_secret is None:
        # One key for every worker, or a page token from one would be refused by the others.
        os.environ["PAGE_TOKEN_SECRET"] = secrets.token_hex(32)
    if deferred_check:
        os.environ[DEFERRED_CHECK_ENV] = "1"
    # Every worker's metrics in files of one fresh directory, so a scrape adds them all up.
    metrics_dir = tempfile.mkdtemp(prefix="vm-inventory-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    options = uvicorn_options(settings) | {"http": "service.http.server:WorkerProtocol"}
    config = uvicorn.Config(
        "service.http.server:worker_app", factory=True, workers=settings.workers, **options
    )
    try:
        Multiprocess(config, sockets=[listener]).run()  # what uvicorn.run does, on our socket
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)
