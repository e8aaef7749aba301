"""Where a GetVM's CPU goes: the floor, a bare Litestar app, then our layers one by one, in-process.

`scripts/bench --layers`: no network and no uvicorn, so the figures are CPU time per request
of the app alone (median of interleaved rounds), steady even on a busy machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import logging
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
from bson import ObjectId
from litestar import Litestar, Response, get
from litestar.di import Provide
from litestar.middleware.base import DefineMiddleware
from pymongo import AsyncMongoClient

from service.config import Settings
from service.domain.apikeys import Scope
from service.domain.schemas import VM
from service.http.app import create_app
from service.http.logs import configure_logging
from service.http.middleware.auth import ApiKeyAuthMiddleware, KeyVerifier
from service.http.middleware.context import RequestContextMiddleware
from service.http.middleware.metrics import prometheus_config
from service.http.middleware.rate_limit import rate_limit_config
from service.http.problems import problem_details_plugin
from service.storage.api_keys import ApiKeyRepository
from service.storage.migrations.runner import upgrade
from service.storage.stored import VM_PROJECTION

ASGI = Callable[..., Awaitable[None]]
PROJECTION = VM_PROJECTION  # the stored VM fields, times as text (as the service reads them)


async def call(app: ASGI, path: str, headers: list[tuple[bytes, bytes]]) -> int:
    """One GET through `app`; return the status."""
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "headers": [(b"host", b"127.0.0.1"), *headers],
        "client": ("127.0.0.1", 5555), "server": ("127.0.0.1", 8000), "state": {},
    }  # fmt: skip
    status = 0

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


async def start(app: ASGI) -> None:
    """Run the app's lifespan startup (its shutdown never comes: the process ends)."""
    messages: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    started = asyncio.Event()
    await messages.put({"type": "lifespan.startup"})

    async def send(message: dict[str, Any]) -> None:
        started.set()

    asyncio.get_running_loop().create_task(
        app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, messages.get, send)
    )
    await started.wait()


def layered_apps(col: Any, verifier: KeyVerifier) -> dict[str, Litestar]:
    """A bare Litestar app doing the floor's GET, then each of our layers added in turn."""

    async def read(vm_id: str) -> VM:
        doc = await col.find_one({"_id": ObjectId(vm_id)}, PROJECTION)
        doc["id"] = str(doc.pop("_id"))
        return msgspec.convert(doc, VM)

    @get("/api/v1/vms/{vm_id:str}")
    async def bare(vm_id: str) -> VM:
        return await read(vm_id)

    @get("/api/v1/vms/{vm_id:str}")
    async def with_etag(vm_id: str) -> Response[VM]:
        vm = await read(vm_id)
        return Response(vm, headers={"ETag": f'"{vm.revision}"'})

    @get("/api/v1/vms/{vm_id:str}")
    async def with_di(vm_id: str, vm_service: object) -> Response[VM]:
        vm = await read(vm_id)
        return Response(vm, headers={"ETag": f'"{vm.revision}"'})

    deps = {"vm_service": Provide(lambda: object(), sync_to_thread=False)}
    context = DefineMiddleware(
        RequestContextMiddleware, max_query_bytes=4096, max_header_bytes=16384
    )
    auth = DefineMiddleware(ApiKeyAuthMiddleware, verifier=verifier, exclude=["^/health"])
    stack = [prometheus_config().middleware, context, auth, rate_limit_config(10**9).middleware]
    base: dict[str, Any] = {"debug": False, "logging_config": None}
    full: dict[str, Any] = {**base, "dependencies": deps, "plugins": [problem_details_plugin()]}
    return {
        "litestar, bare handler": Litestar([bare], **base),
        "+ Response with ETag": Litestar([with_etag], **base),
        "+ dependency injection": Litestar([with_di], dependencies=deps, **base),
        "+ problem+json plugin": Litestar([with_di], **full),
        "+ Prometheus middleware": Litestar([with_di], middleware=stack[:1], **full),
        "+ request id, limits, access log": Litestar([with_di], middleware=stack[:2], **full),
        "+ API-key auth": Litestar([with_di], middleware=stack[:3], **full),
        "+ rate limit": Litestar([with_di], middleware=stack, **full),
    }


async def measure(url: str, rounds: int, requests: int, collector_url: str) -> dict[str, float]:
    """Median CPU us per GetVM of each app, rounds interleaved (the traced apps' span export,
    in the SDK's batch thread, counted: process time)."""
    os.environ["MONGODB_URL"], os.environ["MONGODB_DB"] = url, "layers"
    from bench import floor  # reads MONGODB_URL at import

    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(url, tz_aware=True)
    db = client["layers"]
    await upgrade(db)
    now = datetime.now(UTC).replace(microsecond=0)
    vm = {"name": "layers-1", "status": "running", "os": "debian-12", "cpu_cores": 2,
          "memory_mib": 2048, "storage_gib": 20, "ip_address": None, "labels": {},
          "description": "", "revision": 1, "created_at": now, "updated_at": now}  # fmt: skip
    vm_id = str((await db.vms.insert_one(vm)).inserted_id)
    token = await ApiKeyRepository(db).create("layers", Scope.ADMIN)
    headers = [(b"authorization", f"Bearer {token}".encode())]
    verifier = KeyVerifier(10.0)
    verifier.repo = ApiKeyRepository(db)
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        mongodb_url=url,
        mongodb_db="layers",
        rate_limit_per_minute=10**9,
    )
    apps: dict[str, ASGI] = {"floor (bench/floor.py)": floor.app}
    apps |= layered_apps(db.vms, verifier)
    apps["the service (create_app)"] = create_app(settings)
    if importlib.util.find_spec("opentelemetry.sdk") is not None:  # the `otel` extra
        for ratio in (0.0, 0.1, 1.0):  # 0%: what every unsampled request pays
            traced = settings.model_copy(
                update={
                    "otel_exporter_otlp_endpoint": collector_url,
                    "otel_traces_sampler": "parentbased_traceidratio",
                    "otel_traces_sampler_arg": ratio,
                }
            )
            apps[f"+ tracing, {ratio:.0%} sampled"] = create_app(traced)
    for app in apps.values():
        await start(app)
    await asyncio.sleep(0.5)
    figures: dict[str, list[float]] = {name: [] for name in apps}
    for _ in range(rounds):
        for name, app in apps.items():
            for _ in range(50):
                assert await call(app, f"/api/v1/vms/{vm_id}", headers) == 200, name
            begin = time.process_time()
            for _ in range(requests):
                await call(app, f"/api/v1/vms/{vm_id}", headers)
            figures[name].append((time.process_time() - begin) * 1e6 / requests)
    await client.close()
    return {name: statistics.median(values) for name, values in figures.items()}


# An OTLP/HTTP receiver that accepts and drops every export, in a process of its own.
COLLECTOR = """
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer
class Drop(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200); self.send_header("Content-Length", "0"); self.end_headers()
    def log_message(self, *args):
        pass
HTTPServer(("127.0.0.1", int(sys.argv[1])), Drop).serve_forever()
"""


@contextlib.contextmanager
def collector() -> Iterator[str]:
    """The traced apps' collector: its URL while it runs."""
    from service.storage.mongod import free_port

    port = free_port()
    process = subprocess.Popen([sys.executable, "-c", COLLECTOR, str(port)])
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)


def run(url: str, rounds: int = 5, requests: int = 1000) -> dict[str, float]:
    """Measure and print the table; return it."""
    import uvloop

    configure_logging("INFO")  # the access log as in production, written to /dev/null
    logging.getLogger().handlers[0].setStream(open(os.devnull, "w"))  # noqa: SIM115
    with collector() as collector_url:
        result = uvloop.run(measure(url, rounds, requests, collector_url))
    floor_us = next(iter(result.values()))
    print(f"\nCPU per GetVM in-process (median of {rounds} interleaved rounds x {requests}):")
    for name, micros in result.items():
        print(f"  {name:34} {micros:6.0f} us  ({micros - floor_us:+5.0f} us over the floor)")
    return result


def main() -> None:
    """Run against a mongod of its own."""
    import tempfile

    from service.storage.mongod import LocalMongod, free_port

    with tempfile.TemporaryDirectory(prefix="vm-layers-") as tmp:
        mongod = LocalMongod(Path(tmp) / "mongo", free_port())
        try:
            run(mongod.start())
        finally:
            mongod.stop()


if __name__ == "__main__":
    main()
