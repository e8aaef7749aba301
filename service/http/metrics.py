"""Prometheus metrics: GET /metrics, the MongoDB readiness and schema gauges, the configured limits
(the request count and latency per route and status: service.http.middleware.metrics).

With `serve --workers N` every worker writes its metrics to files in PROMETHEUS_MULTIPROC_DIR
(prometheus_client's multiprocess mode, set up by service.http.server) and a scrape, whichever
worker answers it, adds up every worker's; a single process keeps them in memory.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from litestar import Controller, Response
from litestar.datastructures import State
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Gauge,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from service.domain.errors import DomainError
from service.domain.projects import RESOURCES, Project
from service.domain.projects.service import ProjectService
from service.domain.vms import VMService
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
        page = generate_latest(scraped_registry())
        if not_ready_reason(state) is None:
            page += await project_metrics(state.project_service)
        return Response(page, media_type=MEDIA_TYPE)


class ProjectUsage(Collector):
    """Each project's usage and limits by resource, as read for one scrape. Not gauges of this
    process: the worker answering the scrape reads them from MongoDB (the ledger is the truth,
    shared by every worker), so no worker's stale value, nor a deleted project, lingers."""

    def __init__(self, projects: list[Project]) -> None:
        """Publish `projects`."""
        self.projects = projects

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """The usage of every resource, and the limit of each limited one."""
        labels = ["project", "resource"]
        usage = GaugeMetricFamily(
            "vm_inventory_project_usage",
            "What a project's live VMs use, by resource (vms, cpu_cores, memory_mib, "
            "storage_gib), as of the scrape",
            labels=labels,
        )
        limit = GaugeMetricFamily(
            "vm_inventory_project_quota_limit",
            "A project's quota of a resource (only resources with a limit)",
            labels=labels,
        )
        for project in self.projects:
            for resource in RESOURCES:
                usage.add_metric([project.name, resource], getattr(project.usage, resource))
                if (most := getattr(project.quota, resource)) is not None:
                    limit.add_metric([project.name, resource], most)
        yield usage
        yield limit


async def project_metrics(projects: ProjectService) -> bytes:
    """The ProjectUsage page of a scrape (nothing while MongoDB does not answer)."""
    try:
        every = await projects.every_project()
    except DomainError:
        return b""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ProjectUsage(every))
    return generate_latest(registry)


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
