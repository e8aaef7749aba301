"""Prometheus metrics: request count and latency per route and status, MongoDB readiness.

With `serve --workers N` every worker writes its metrics to files in PROMETHEUS_MULTIPROC_DIR
(prometheus_client's multiprocess mode, set up by service.http.server) and a scrape, whichever
worker answers it, adds up every worker's; a single process keeps them in memory.
"""

from __future__ import annotations

import os
import time
from typing import Any

from litestar import Controller, Response
from litestar.datastructures import State
from litestar.enums import ScopeType
from litestar.plugins.prometheus import PrometheusConfig, PrometheusMiddleware
from litestar.types import ASGIApp, Message, Receive, ReceiveMessage, Scope, Send
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Gauge,
    generate_latest,
    multiprocess,
)

from service.domain.errors import DomainError
from service.domain.vms import VMService
from service.http.context import CLIENT_CLOSED
from service.http.head import get_and_head

MONGODB_READY = Gauge(
    "vm_inventory_mongodb_ready",
    "1 when the last readiness check passed (MongoDB answered, its schema is this code's), else 0",
    multiprocess_mode="mostrecent",  # across workers: the latest check, whichever worker ran it
)


SCHEMA_MISMATCH = Gauge(
    "vm_inventory_schema_mismatch",
    "1 while the database's schema is not the one this code needs (migrations pending), else 0",
    multiprocess_mode="mostrecent",
)
MIGRATION_LOCK_AGE = Gauge(
    "vm_inventory_migration_lock_age_seconds",
    "Seconds a migration runner has held the migration lock, as of the last scrape that reached "
    "MongoDB (0 when nobody holds it; a dead runner's lapses with its lease)",
    multiprocess_mode="mostrecent",
)
# The configured limits, for alerts on usage near them.
# Limits and the counts they cap are summed over live workers (`serve --workers`), so their
# ratio is the same whether one process or several answer.
WATCH_MAX_CLIENTS = Gauge(
    "vm_inventory_watch_max_clients", "WATCH_MAX_CLIENTS (per process)", multiprocess_mode="livesum"
)
MAX_CONNECTIONS = Gauge(
    "vm_inventory_max_connections", "MAX_CONNECTIONS (per process)", multiprocess_mode="livesum"
)


def export_limits(watch_max_clients: int, max_connections: int) -> None:
    """Publish the configured limits as gauges."""
    WATCH_MAX_CLIENTS.set(watch_max_clients)
    MAX_CONNECTIONS.set(max_connections)


class LeanPrometheusMiddleware(PrometheusMiddleware):
    """Litestar's Prometheus middleware with the same metrics and labels, minus its per-request
    costs (a Request object, label dicts, four label look-ups): it took ~20% of a GET's CPU."""

    def __init__(self, app: ASGIApp, config: PrometheusConfig) -> None:
        """Create (or reuse) the four metrics once."""
        super().__init__(app, config)
        names: dict[str, str | int | float] = dict.fromkeys(_METRIC_LABELS, "")
        self._in_progress = self.requests_in_progress(names)
        self._count = self.request_count(names)
        self._time = self.request_time(names)
        self._errors = self.requests_error_count(names)
        # Label children bound once per (method, route) and (method, route, status).
        self._running: dict[tuple[str, str], Any] = {}
        self._children: dict[tuple[str, str, int], tuple[Any, Any, Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Count the request, its status and its duration (until the body was sent)."""
        method = scope["method"] if scope["type"] == ScopeType.HTTP else scope["type"]
        path = scope.get("path_template") or scope["path"]
        start = time.perf_counter()
        status, duration = 200, 0.0
        started = closed = False

        async def watched_receive() -> ReceiveMessage:
            nonlocal closed
            message = await receive()
            if message["type"] == "http.disconnect" and not started:
                closed = True
            return message

        async def wrapped_send(message: Message) -> None:
            nonlocal status, duration, started
            if message["type"] == "http.response.start":
                status, started = message["status"], True
            elif message["type"] == "http.response.body":
                duration = time.perf_counter() - start
            await send(message)

        in_progress = self._running.get((method, path))
        if in_progress is None:
            if len(self._running) > 10_000:
                self._running.clear()
            in_progress = self._in_progress.labels(method, path, 200, self._config.app_name)
            self._running[(method, path)] = in_progress
        in_progress.inc()
        try:
            await self.app(scope, watched_receive, wrapped_send)
        finally:
            in_progress.dec()
            if closed:
                status, duration = CLIENT_CLOSED, time.perf_counter() - start
            key = (method, path, status)
            children = self._children.get(key)
            if children is None:
                if len(self._children) > 10_000:
                    self._children.clear()
                values = (method, path, status, self._config.app_name)
                children = (
                    self._count.labels(*values),
                    self._time.labels(*values),
                    self._errors.labels(*values) if status >= 500 else None,
                )
                self._children[key] = children
            children[0].inc()
            children[1].observe(duration)
            if children[2] is not None:
                children[2].inc()


_METRIC_LABELS = ("method", "path", "status_code", "app_name")


def prometheus_config() -> PrometheusConfig:
    """Request count and latency by method, route template and status."""
    return PrometheusConfig(
        app_name="vm-inventory",
        prefix="vm_inventory",
        group_path=True,
        exclude=["^/metrics"],
        middleware_class=LeanPrometheusMiddleware,
    )


class MetricsController(Controller):
    """GET /metrics: Prometheus text format, refreshing the MongoDB readiness gauge first."""

    path = "/metrics"

    @get_and_head("/", operation_id="Metrics", include_in_schema=False)
    async def metrics(self, state: State) -> Response[bytes]:
        """Every metric of this process, served whether or not the service is ready."""
        if not_ready_reason(state) is None:
            answers = await refresh_readiness(state.vm_service)
            SCHEMA_MISMATCH.set(0)
        else:
            MONGODB_READY.set(0)
            # Not ready although MongoDB answers: its schema is not this code's.
            off = state.schema_guard.reason is not None and not state.get("not_ready")
            answers = off and await _answers(state.vm_service)
            SCHEMA_MISMATCH.set(int(answers))
        # Read while MongoDB answers, whether or not the schema is this code's (a `migrate up`
        # holding the lock is when it is not).
        if answers and (held := await state.schema_guard.migration_lock_seconds()) is not None:
            MIGRATION_LOCK_AGE.set(held)
        return Response(generate_latest(scraped_registry()), media_type=MEDIA_TYPE)


def scraped_registry() -> CollectorRegistry:
    """What a scrape reports: every worker's metrics in multiprocess mode, else this process's."""
    global _every_worker
    if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        return REGISTRY
    if _every_worker is None:
        _every_worker = CollectorRegistry()
        multiprocess.MultiProcessCollector(_every_worker)  # type: ignore[no-untyped-call]
    return _every_worker


_every_worker: CollectorRegistry | None = None


def forget_dead_workers() -> None:
    """Drop the live gauges (requests in progress, watchers) of workers that died without
    saying so (uvicorn starts a new worker in its place): their counters and histograms stay."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory is None:
        return
    pids = {name.rsplit("_", 1)[-1].removesuffix(".db") for name in os.listdir(directory)}
    for pid in filter(str.isdigit, pids):
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            multiprocess.mark_process_dead(int(pid), directory)  # type: ignore[no-untyped-call]
        except PermissionError:
            pass  # alive, someone else's


# Litestar appends the charset to every text/ media type itself.
MEDIA_TYPE = "; ".join(p for p in CONTENT_TYPE_LATEST.split("; ") if not p.startswith("charset="))


def not_ready_reason(state: State) -> str | None:
    """Why the API cannot serve yet: MongoDB not ready since start-up, or its schema not the one
    this code needs (None: it serves)."""
    if state.get("not_ready"):
        return str(state.not_ready)
    reason: str | None = state.schema_guard.reason
    return reason


async def refresh_readiness(vm_service: VMService) -> bool:
    """Ping MongoDB, set the readiness gauge and return whether it answered."""
    try:
        await vm_service.ping()
    except DomainError:
        MONGODB_READY.set(0)
        return False
    MONGODB_READY.set(1)
    return True


async def _answers(vm_service: VMService) -> bool:
    try:
        await vm_service.ping()
    except DomainError:
        return False
    return True
