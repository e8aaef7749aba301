"""Every route resolves its dependencies one after another, never in a task group per request."""

from __future__ import annotations

from service.config import Settings
from service.http.app import create_app


def test_no_route_resolves_its_dependencies_concurrently(settings: Settings) -> None:
    app = create_app(settings)
    several: dict[str, list[str]] = {}
    for route in app.routes:
        for method, (_, model) in getattr(route, "route_handler_map", {}).items():
            batches = model.dependency_batches
            names = [dependency.key for batch in batches for dependency in batch]
            if len(names) > 1:
                several[f"{method} {route.path}"] = names
            # Litestar runs a batch of two or more in an anyio task group (litestar#4563).
            assert all(len(batch) == 1 for batch in batches), (method, route.path, names)
    # The routes this matters for are still there, each with its dependencies in a fixed order.
    assert several["GET /api/v1/vms"] == ["filters", "vm_service", "params"]
    assert several["POST /api/v1/vms"] == ["idempotency", "vm_service", "write"]
    assert several["PATCH /api/v1/vms/{vm_id:str}"] == [
        "idempotency", "settings", "vm_service", "write",
    ]  # fmt: skip
    assert several["POST /api/v1/vms/batch"] == ["bulk_service", "idempotency", "settings", "write"]
