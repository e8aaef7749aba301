"""create_app(settings): plugins, routes, exception handlers and the lifespan owning the client."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta

from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide
from litestar.enums import ScopeType
from litestar.middleware.base import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.types import ASGIApp, Receive, Scope, Send

from service.config import Settings
from service.domain.bulk import BulkService
from service.domain.errors import (
    DatabaseUnavailable,
)
from service.domain.events import EventService
from service.domain.idempotency import IdempotencyService
from service.domain.listing import PageTokens
from service.domain.slots import Slots
from service.domain.vms import VMService
from service.domain.watch.hub import Hub
from service.http import openapi
from service.http.auth import ApiKeyAuthMiddleware, KeyVerifier
from service.http.bodies import MAX_BODY_BYTES, StrictRequest
from service.http.context import PUBLIC_PATHS, RequestContextMiddleware
from service.http.controllers.bulk import BulkController
from service.http.controllers.events import EventController
from service.http.controllers.export import ExportController
from service.http.controllers.health import HealthController
from service.http.controllers.vms import VMController
from service.http.controllers.watch import WatchController
from service.http.head import HeadMiddleware
from service.http.metrics import MetricsController, not_ready_reason, prometheus_config
from service.http.problems import problem_details_plugin
from service.http.query_check import QueryCheckMiddleware
from service.http.rate_limit import rate_limit_config
from service.http.sse import serving
from service.storage.bulk import BulkVMRepository
from service.storage.client import make_client, wait_until_ready
from service.storage.idempotency import IdempotencyRepository
from service.storage.migrations.guard import GuardedKeys, SchemaGuard, needed_version
from service.storage.stored import VMS_COLLECTION
from service.storage.vms import VMRepository
from service.storage.watch import MongoChangeSource

CHECK_RETRY_SECONDS = 2.0
log = logging.getLogger("service.app")


StartupCheck = Callable[[], Awaitable[str | None]]


async def prepare(app: Litestar, url: str, settings: Settings, check: StartupCheck | None) -> None:
    """Wait until MongoDB is ready, then retry `check` until it returns None (ready)."""
    # Probed over a client of its own: see wait_until_ready.
    await wait_until_ready(url, settings)
    reported = None
    while check is not None and (problem := await check()) is not None:
        app.state.not_ready = problem
        if problem != reported:
            log.error("not ready: %s", problem)
            reported = problem
        await asyncio.sleep(CHECK_RETRY_SECONDS)
    app.state.not_ready = None


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
        guard: SchemaGuard = scope["litestar_app"].state.schema_guard
        guard.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            guard.in_flight -= 1


def create_app(settings: Settings, startup_check: StartupCheck | None = None) -> Litestar:
    """Build the application for `settings` (which must name a MongoDB URL).

    `startup_check` (serve's migration check, when MongoDB did not answer at start) keeps the
    service not ready, answering 503, until it returns None.
    """
    if not settings.mongodb_url:
        raise ValueError("settings.mongodb_url is required (the CLI starts a local mongod)")
    url = settings.mongodb_url
    verifier = KeyVerifier(settings.api_key_cache_seconds)
    needs_version = needed_version()

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        client = make_client(url, settings)
        database = client[settings.mongodb_db]
        # Never block start-up on MongoDB: /health/ready tells when it answers. Without a
        # startup check the caller found MongoDB ready and its schema ok just now; with one,
        # nothing touches `client` (API keys included) until both are: a connection opened
        # before the replica set is initiated would stay pooled, never supporting sessions.
        waiting = None
        if startup_check is not None:
            waiting = app.state.not_ready = "waiting for MongoDB and the migration check"
        odm = asyncio.create_task(prepare(app, url, settings, startup_check))
        watch_client = make_client(url, settings)
        guard = app.state.schema_guard = SchemaGuard(
            database, needs_version, settings.schema_check_seconds, reason=waiting
        )

        async def watch() -> None:
            # Not before MongoDB is ready and its migrations check out (see above).
            await odm
            await guard.run()

        watcher = asyncio.create_task(watch())
        try:
            secret = settings.page_token_secret
            tokens = PageTokens(secret.get_secret_value() if secret else None)
            repository = VMRepository(database)
            retention = timedelta(days=settings.deleted_retention_days)
            app.state.vm_service = VMService(repository, page_tokens=tokens, retention=retention)
            exports = Slots(
                "exports", settings.export_max_concurrent, settings.export_max_concurrent_per_key
            )
            bulk_repository = BulkVMRepository(database)
            app.state.bulk_service = BulkService(app.state.vm_service, bulk_repository, exports)
            app.state.event_service = EventService(repository, page_tokens=tokens)
            app.state.idempotency = IdempotencyService(IdempotencyRepository(database))
            verifier.repo = GuardedKeys(database, guard)
            # The change streams' own client: their long polls never hold a connection requests
            # need; and not before MongoDB is ready (a connection pooled too early never works).
            source = MongoChangeSource(watch_client[settings.mongodb_db][VMS_COLLECTION])
            slots = Slots("watches", settings.watch_max_clients, settings.watch_max_clients_per_key)
            window = settings.watch_resume_window_seconds
            hub = Hub(source, slots, settings.watch_queue_events, window)
            async with serving(hub, asyncio.shield(odm)):
                app.state.watch_hub = hub
                yield
            await verifier.drain()
        finally:
            odm.cancel()
            watcher.cancel()
            await guard.stop()
            await client.close()
            await watch_client.close()

    def provide_vm_service(state: State) -> VMService:
        # A plain function, not a generator (Litestar's cleanup of one cost 3-5% of a GetVM):
        # InFlightMiddleware counted this request before this check, as `migrate down` needs.
        if (reason := not_ready_reason(state)) is not None:
            raise DatabaseUnavailable(f"not ready: {reason}")
        service: VMService = state.vm_service
        return service

    def provide_bulk_service(state: State) -> BulkService:
        provide_vm_service(state)  # the same readiness checks (InFlightMiddleware counts it)
        service: BulkService = state.bulk_service
        return service

    def provide_event_service(state: State) -> EventService:
        if (reason := state.schema_guard.reason) is not None:
            raise DatabaseUnavailable(f"not ready: {reason}")
        service: EventService = state.event_service
        return service

    def provide_idempotency(state: State) -> IdempotencyService:
        service: IdempotencyService = state.idempotency
        return service

    def provide_watch_hub(state: State) -> Hub:
        provide_vm_service(state)  # the same readiness checks
        hub: Hub = state.watch_hub
        return hub

    def provide_settings() -> Settings:
        return settings

    public = [*PUBLIC_PATHS, "^/metrics"] if settings.metrics_public else list(PUBLIC_PATHS)
    middleware = [
        DefineMiddleware(HeadMiddleware),
        prometheus_config().middleware,
        DefineMiddleware(
            RequestContextMiddleware,
            max_query_bytes=settings.max_query_bytes,
            max_header_bytes=settings.max_header_bytes,
        ),
        DefineMiddleware(ApiKeyAuthMiddleware, verifier=verifier, exclude=public),
        rate_limit_config(settings.rate_limit_per_minute).middleware,
        DefineMiddleware(QueryCheckMiddleware),
        DefineMiddleware(InFlightMiddleware),
    ]
    app = Litestar(
        route_handlers=[
            VMController,
            WatchController,
            EventController,
            BulkController,
            ExportController,
            HealthController,
            MetricsController,
        ],
        middleware=middleware,
        dependencies={
            "vm_service": Provide(provide_vm_service, sync_to_thread=False),
            "event_service": Provide(provide_event_service, sync_to_thread=False),
            "bulk_service": Provide(provide_bulk_service, sync_to_thread=False),
            "idempotency": Provide(provide_idempotency, sync_to_thread=False),
            "watch_hub": Provide(provide_watch_hub, sync_to_thread=False),
            "settings": Provide(provide_settings, sync_to_thread=False),
        },
        lifespan=[lifespan],
        request_class=StrictRequest,
        request_max_body_size=MAX_BODY_BYTES,
        plugins=[problem_details_plugin()],
        openapi_config=OpenAPIConfig(
            title="VM Inventory",
            version="1.0.0",
            description="Inventory of virtual machines.",
            path="/schema",
            render_plugins=[ScalarRenderPlugin()],
            components=Components(
                security_schemes={
                    "ApiKey": SecurityScheme(
                        type="http",
                        scheme="bearer",
                        description="an API key: `python -m service apikey create`",
                    )
                }
            ),
        ),
        debug=False,
        logging_config=None,  # `serve` configures JSON logging (service.http.context)
    )
    resolve_dependencies_in_turn(app)
    return openapi.install(app)


def resolve_dependencies_in_turn(app: Litestar) -> None:
    """Make every route resolve its dependencies one after another.

    Litestar resolves a route's independent dependencies concurrently, in an anyio task group
    (litestar-org/litestar#4563): for ListVMs' two sync providers that cost ~58 of ~615 us per
    request in-process, and the writes have two or three. A batch's members never depend on each
    other, so splitting it into batches of one (by name, so the order is fixed) changes nothing
    else; tests/api/test_dependencies.py checks that it still applies to every route.
    """
    for route in app.routes:
        for _, model in getattr(route, "route_handler_map", {}).values():
            model.dependency_batches = [
                {dependency}
                for batch in model.dependency_batches
                for dependency in sorted(batch, key=lambda d: d.key)
            ]
