"""The API requests in flight, counted for `migrate down` (service.storage.migrations.guard)."""

from __future__ import annotations

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send


class InFlightMiddleware:
    """Counts the API requests in flight in the schema guard, from before their check of it until
    their response is sent: `migrate down` waits until no request that passed the check runs."""

    def __init__(self, app: ASGIApp) -> None:
        """Wrap `app`."""
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Count an /api/ request while it runs."""
        if scope["type"] != ScopeType.HTTP or not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        guard = scope["litestar_app"].state.schema_guard  # the app's SchemaGuard (create_app)
        guard.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            guard.in_flight -= 1
