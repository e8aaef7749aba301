"""create_app(settings): plugins, routes, exception handlers and the lifespan owning the client."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme

from service.config import Settings
from service.domain.bulk import BulkService
from service.domain.errors import (
    DatabaseUnavailable,
)
from service.domain.events import EventService
from service.domain.idempotency import IdempotencyService
from service.domain.listing import PageTokens
from service.domain.projects.service import ProjectService
from service.domain.slots import Slots
from service.domain.vms import VMService
from service.domain.watch.hub import Hub
from service.http import docs_page, openapi, tracing
from service.http.bodies import MAX_BODY_BYTES, StrictRequest
from service.http.controllers.bulk import BulkController
from service.http.controllers.events import EventController
from service.http.controllers.export import ExportController
from service.http.controllers.health import HealthController
from service.http.controllers.params import Req
from service.http.controllers.projects import ProjectController
from service.http.controllers.vms import VMController
from service.http.controllers.watch import WatchController
from service.http.metrics import MetricsController, export_limits, not_ready_reason
from service.http.middleware import build_middleware_stack
from service.http.middleware.auth import KeyVerifier
from service.http.problems import problem_details_plugin
from service.http.sse import serving
from service.http.stream_keys import StreamKeys
from service.storage.bulk import BulkVMRepository
from service.storage.client import make_client, wait_until_ready
from service.storage.idempotency import IdempotencyRepository
from service.storage.migrations.guard import GuardedKeys, SchemaGuard, needed_version
from service.storage.projects import ProjectRepository
from service.storage.shielded import settle
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


def create_app(
    settings: Settings, startup_check: StartupCheck | None = None, tracer_provider: Any = None
) -> Litestar:
    """Build the application for `settings` (which must name a MongoDB URL).

    `startup_check` (serve's migration check, when MongoDB did not answer at start) keeps the
    service not ready, answering 503, until it returns None. `tracer_provider` (tests) traces
    with it instead of the OTEL_* settings.
    """
    if not settings.mongodb_url:
        raise ValueError("settings.mongodb_url is required (the CLI starts a local mongod)")
    url = settings.mongodb_url
    verifier = KeyVerifier(settings.api_key_cache_seconds)
    stream_keys = StreamKeys(verifier, settings.api_key_cache_seconds)
    needs_version = needed_version()
    traces = tracing.setup(settings, tracer_provider)
    export_limits(settings.watch_max_clients, settings.max_connections)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        client = make_client(url, settings, traces.listeners())
        database = client[settings.mongodb_db]
        # Never block start-up on MongoDB: /health/ready tells when it answers. Without a
        # startup check the caller found MongoDB ready and its schema ok just now; with one,
        # nothing touches `client` (API keys included) until both are: a connection opened
        # before the replica set is initiated would stay pooled, never supporting sessions.
        waiting = None
        if startup_check is not None:
            waiting = app.state.not_ready = "waiting for MongoDB and the migration check"
        readiness = asyncio.create_task(prepare(app, url, settings, startup_check))
        watch_client = make_client(url, settings, traces.listeners())
        guard = app.state.schema_guard = SchemaGuard(
            database, needs_version, settings.schema_check_seconds, reason=waiting
        )

        async def watch() -> None:
            # Not before MongoDB is ready and its migrations check out (see above).
            await readiness
            await guard.run()

        watcher = asyncio.create_task(watch())
        try:
            secret = settings.page_token_secret
            tokens = PageTokens(secret.get_secret_value() if secret else None)
            repository = VMRepository(database)
            retention = timedelta(days=settings.deleted_retention_days)
            vm_service = VMService(repository, page_tokens=tokens, retention=retention)
            app.state.vm_service = traces.traced(vm_service)
            exports = Slots(
                "exports", settings.export_max_concurrent, settings.export_max_concurrent_per_key
            )
            bulk_service = BulkService(vm_service, BulkVMRepository(database), exports)
            app.state.bulk_service = traces.traced(bulk_service)
            app.state.event_service = traces.traced(EventService(repository, page_tokens=tokens))
            projects = ProjectService(ProjectRepository(database), page_tokens=tokens)
            app.state.project_service = traces.traced(projects)
            idempotency = IdempotencyService(IdempotencyRepository(database))
            app.state.idempotency = traces.traced(idempotency)
            verifier.repo = GuardedKeys(database, guard)
            # The change streams' own client: their long polls never hold a connection requests
            # need; and not before MongoDB is ready (a connection pooled too early never works).
            source = MongoChangeSource(watch_client[settings.mongodb_db][VMS_COLLECTION])
            slots = Slots("watches", settings.watch_max_clients, settings.watch_max_clients_per_key)
            window = settings.watch_resume_window_seconds
            idle = settings.watch_idle_close_seconds
            hub = Hub(source, slots, settings.watch_queue_events, window, idle)
            async with serving(hub, asyncio.shield(readiness)):
                app.state.watch_hub = hub
                yield
            await stream_keys.close()
            await verifier.drain()
        finally:
            readiness.cancel()
            watcher.cancel()
            await guard.stop()
            await settle(settings.mongodb_timeout_ms / 1000)  # reads and closes left running
            await client.close()
            await watch_client.close()
            await traces.close()

    # The providers take the request, not `state`: Litestar builds a copy of the app's State for
    # every `state` parameter (~5 us of a GetVM's CPU per provider).
    def ready(request: Req) -> State:
        # RequestPipeline counted this request before this check, as `migrate down` needs.
        state = request.app.state
        if (reason := not_ready_reason(state)) is not None:
            raise DatabaseUnavailable(f"not ready: {reason}")
        return state

    def provide_vm_service(request: Req) -> VMService:
        # A plain function, not a generator (Litestar's cleanup of one cost 3-5% of a GetVM).
        service: VMService = ready(request).vm_service
        return service

    def provide_bulk_service(request: Req) -> BulkService:
        service: BulkService = ready(request).bulk_service
        return service

    def provide_project_service(request: Req) -> ProjectService:
        service: ProjectService = ready(request).project_service
        return service

    def provide_event_service(request: Req) -> EventService:
        state = request.app.state
        if (reason := state.schema_guard.reason) is not None:
            raise DatabaseUnavailable(f"not ready: {reason}")
        service: EventService = state.event_service
        return service

    def provide_idempotency(request: Req) -> IdempotencyService:
        service: IdempotencyService = request.app.state.idempotency
        return service

    def provide_watch_hub(request: Req) -> Hub:
        hub: Hub = ready(request).watch_hub
        return hub

    def provide_settings() -> Settings:
        return settings

    def provide_stream_keys() -> StreamKeys:
        return stream_keys

    app = Litestar(
        route_handlers=[
            VMController,
            ProjectController,
            WatchController,
            EventController,
            BulkController,
            ExportController,
            HealthController,
            MetricsController,
            docs_page.assets_router(),
        ],
        middleware=build_middleware_stack(settings, verifier, traces.middleware()),
        dependencies={
            "vm_service": Provide(provide_vm_service, sync_to_thread=False),
            "event_service": Provide(provide_event_service, sync_to_thread=False),
            "bulk_service": Provide(provide_bulk_service, sync_to_thread=False),
            "project_service": Provide(provide_project_service, sync_to_thread=False),
            "idempotency": Provide(provide_idempotency, sync_to_thread=False),
            "watch_hub": Provide(provide_watch_hub, sync_to_thread=False),
            "settings": Provide(provide_settings, sync_to_thread=False),
            "stream_keys": Provide(provide_stream_keys, sync_to_thread=False),
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
            render_plugins=[docs_page.render_plugin()],
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
        logging_config=None,  # `serve` configures JSON logging (service.http.logs)
    )
    resolve_dependencies_in_turn(app)
    return openapi.install(app)


def resolve_dependencies_in_turn(app: Litestar) -> None:
    """Make every route resolve its dependencies one after another.

    Litestar resolves a route's independent dependencies concurrently, in an anyio task group
    (litestar-org/litestar#4563): for ListVMs' two sync providers that cost ~58 of ~615 us per
    request in-process, and the writes have two or three. A batch's members never depend on each
    other, so splitting it into batches of one (by name, so the order is fixed) changes nothing
    else; tests/api/http/test_dependencies.py checks that it still applies to every route.
    """
    for route in app.routes:
        for _, model in getattr(route, "route_handler_map", {}).values():
            model.dependency_batches = [
                {dependency}
                for batch in model.dependency_batches
                for dependency in sorted(batch, key=lambda d: d.key)
            ]
