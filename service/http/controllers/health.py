"""Liveness and readiness probes at /health (public: no API key)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request

from service.domain.errors import DatabaseUnavailable
from service.domain.schemas import Health
from service.http.controllers.params import Service
from service.http.head import get_and_head
from service.http.metrics import refresh_readiness
from service.http.problems import responses


class HealthController(Controller):
    """Liveness and readiness probes."""

    path = "/health"
    tags = ["health"]

    @get_and_head("/live", operation_id="Live", summary="The process is up")
    async def live(self) -> Health:
        """Always ok while the process serves."""
        return Health(status="ok")

    @get_and_head(
        "/ready", operation_id="Ready", summary="MongoDB answers", responses=responses(public=True)
    )
    async def ready(self, request: Request[Any, Any, Any], vm_service: Service) -> Health:
        """Ok when MongoDB answers a ping; 503 otherwise."""
        if not await refresh_readiness(vm_service):
            raise DatabaseUnavailable()
        return Health(status="ok")
