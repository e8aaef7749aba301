"""The request metrics: count, latency and requests in progress per method, route and status
(service.http.metrics serves them, with the gauges, on /metrics)."""

from __future__ import annotations

import re
from typing import Any

from litestar.plugins.prometheus import PrometheusConfig, PrometheusMiddleware
from litestar.types import Receive, Scope, Send


class RequestMetrics:
    """Litestar's Prometheus metrics (the same names, labels and buckets), counted by
    service.http.middleware.pipeline without its middleware's per-request costs (a Request
    object, label dicts, four label look-ups: ~20% of a GET's CPU)."""

    def __init__(self) -> None:
        """Create (or reuse) the four metrics once."""
        config = prometheus_config()
        factory = PrometheusMiddleware(_no_app, config)  # its metrics, registered once per name
        names: dict[str, str | int | float] = dict.fromkeys(_METRIC_LABELS, "")
        self.app_name = config.app_name
        self.exclude = re.compile("|".join(config.exclude or ()))
        self._in_progress = factory.requests_in_progress(names)
        self._count = factory.request_count(names)
        self._time = factory.request_time(names)
        self._errors = factory.requests_error_count(names)
        # Label children bound once per (method, route) and (method, route, status).
        self._running: dict[tuple[str, str], Any] = {}
        self._children: dict[tuple[str, str, int], tuple[Any, Any, Any]] = {}

    def running(self, method: str, path: str) -> Any:
        """The requests-in-progress gauge of (method, route template)."""
        in_progress = self._running.get((method, path))
        if in_progress is None:
            if len(self._running) > 10_000:
                self._running.clear()
            in_progress = self._in_progress.labels(method, path, 200, self.app_name)
            self._running[(method, path)] = in_progress
        return in_progress

    def record(self, method: str, path: str, status: int, duration: float) -> None:
        """Count one finished request and observe its duration (seconds)."""
        key = (method, path, status)
        children = self._children.get(key)
        if children is None:
            if len(self._children) > 10_000:
                self._children.clear()
            values = (method, path, status, self.app_name)
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


async def _no_app(scope: Scope, receive: Receive, send: Send) -> None:
    """The app of the middleware RequestMetrics only borrows the metrics of (never called)."""


_METRIC_LABELS = ("method", "path", "status_code", "app_name")


def prometheus_config() -> PrometheusConfig:
    """Request count and latency by method, route template and status."""
    return PrometheusConfig(
        app_name="vm-inventory", prefix="vm_inventory", group_path=True, exclude=["^/metrics"]
    )
