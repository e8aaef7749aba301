"""Where a GetVM's CPU goes: the floor, a bare Litestar app, then our layers one by one, in-process;
then GetVM and ListVMs (a 50-VM page) of the litestar targets' app (bench/litestar_app.py) beside
the service's.

`scripts/bench --layers`: no network and no uvicorn, so the figures are CPU time per request
of the app alone (median of interleaved rounds), steady even on a busy machine. `python -m
bench.layers --ends` measures only the last table (quicker, to compare a change).
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
from types import SimpleNamespace
from typing import Any

import msgspec
from bson import ObjectId
from litestar import Litestar, Response, get
from litestar.datastructures import State
from litestar.di import Provide
from litestar.middleware.base import DefineMiddleware
from pymongo import AsyncMongoClient

from service.config import Settings
from service.domain.apikeys import Scope
from service.domain.projects import DEFAULT_PROJECT
from service.domain.schemas import VM
from service.http.app import create_app
from service.http.logs import configure_logging
from service.http.middleware.auth import ApiKeyAuth, KeyVerifier
from service.http.middleware.pipeline import RequestPipeline
from service.http.middleware.rate_limit import KeyRateLimit
from service.http.problems import problem_details_plugin
from service.http.server import freeze_startup_heap
from service.storage.api_keys import ApiKeyRepository
from service.storage.migrations.runner import upgrade
from service.storage.stored import VM_PROJECTION

ASGI = Callable[..., Awaitable[None]]
PROJECTION = VM_PROJECTION  # the stored VM fields, times as text (as the service reads them)


async def call(app: ASGI, path: str, headers: list[tuple[bytes, bytes]]) -> int:
    """One GET through `app`; return the status."""
    path, _, query = path.partition("?")
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": query.encode(),
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
    pipeline = DefineMiddleware(
        RequestPipeline, auth=ApiKeyAuth(verifier, exclude=["^/health"]),
        rate_limit=KeyRateLimit(10**9), max_query_bytes=4096, max_header_bytes=16384,
    )  # fmt: skip
    base: dict[str, Any] = {"debug": False, "logging_config": None}
    full: dict[str, Any] = {**base, "dependencies": deps, "plugins": [problem_details_plugin()]}
    guarded = State({"schema_guard": SimpleNamespace(in_flight=0, reason=None)})
    return {
        "litestar, bare handler": Litestar([bare], **base),
        "+ Response with ETag": Litestar([with_etag], **base),
        "+ dependency injection": Litestar([with_di], dependencies=deps, **base),
        "+ problem+json plugin": Litestar([with_di], **full),
        "+ RequestPipeline (middleware)": Litestar(
            [with_di], middleware=[pipeline], state=guarded, **full
        ),
    }


LIST_PATH = "/api/v1/vms?page_size=50"
PAGE = 60  # VMs seeded: ListVMs' page is full and has a next page


async def measure(
    url: str, rounds: int, requests: int, collector_url: str, ends: bool = False
) -> dict[str, float]:
    """Median CPU us per request of each app and call, rounds interleaved (the traced apps' span
    export, in the SDK's batch thread, counted: process time). `ends`: only the litestar
    targets' app and the service, GetVM and ListVMs."""
    os.environ["MONGODB_URL"], os.environ["MONGODB_DB"] = url, "layers"
    from bench import floor, litestar_app  # read MONGODB_URL at import

    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(url, tz_aware=True)
    db = client["layers"]
    await upgrade(db)
    now = datetime.now(UTC).replace(microsecond=0)
    vms = [{"name": f"layers-{i}", "status": "running", "os": "debian-12", "cpu_cores": 2,
            "memory_mib": 2048, "storage_gib": 20, "ip_address": f"10.0.0.{i}",
            "labels": {"env": "prod"}, "description": "", "revision": 1, "created_at": now,
            "updated_at": now, "project": DEFAULT_PROJECT} for i in range(PAGE)]  # fmt: skip
    vm_id = str((await db.vms.insert_many(vms)).inserted_ids[0])
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
    get_path = f"/api/v1/vms/{vm_id}"
    calls: dict[str, tuple[ASGI, str]] = {}
    if not ends:
        calls["floor (bench/floor.py)"] = (floor.app, get_path)
        calls |= {name: (app, get_path) for name, app in layered_apps(db.vms, verifier).items()}
    service = create_app(settings)
    if not ends:
        calls["the service (create_app)"] = (service, get_path)
    if not ends and importlib.util.find_spec("opentelemetry.sdk") is not None:  # `otel` extra
        for ratio in (0.0, 0.1, 1.0):  # 0%: what every unsampled request pays
            traced = settings.model_copy(
                update={
                    "otel_exporter_otlp_endpoint": collector_url,
                    "otel_traces_sampler": "parentbased_traceidratio",
                    "otel_traces_sampler_arg": ratio,
                }
            )
            calls[f"+ tracing, {ratio:.0%} sampled"] = (create_app(traced), get_path)
    calls["GetVM, litestar targets' app"] = (litestar_app.app, get_path)
    calls["GetVM, the service"] = (service, get_path)
    calls["ListVMs, litestar targets' app"] = (litestar_app.app, LIST_PATH)
    calls["ListVMs, the service"] = (service, LIST_PATH)
    for app in {id(app): app for app, _ in calls.values()}.values():
        await start(app)
    await asyncio.sleep(0.5)
    freeze_startup_heap()  # as `serve` and the litestar-tuned target do
    figures: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(rounds):
        for name, (app, path) in calls.items():
            for _ in range(50):
                assert await call(app, path, headers) == 200, name
            begin = time.process_time()
            for _ in range(requests):
                await call(app, path, headers)
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


def run(url: str, rounds: int = 5, requests: int = 1000, ends: bool = False) -> dict[str, float]:
    """Measure and print the tables; return them."""
    import uvloop

    configure_logging("INFO")  # the access log as in production, written to /dev/null
    logging.getLogger().handlers[0].setStream(open(os.devnull, "w"))  # noqa: SIM115
    with collector() as collector_url:
        result = uvloop.run(measure(url, rounds, requests, collector_url, ends))
    names = list(result)
    ends_at = names.index("GetVM, litestar targets' app")
    print(f"\nCPU per request in-process (median of {rounds} interleaved rounds x {requests}):")
    if ends_at:
        floor_us = result[names[0]]
        print("GetVM, layer by layer:")
        for name in names[:ends_at]:
            micros = result[name]
            print(f"  {name:34} {micros:6.0f} us  ({micros - floor_us:+5.0f} us over the floor)")
    print("The litestar targets' app (bench/litestar_app.py) and the service:")
    for call_name in ("GetVM", "ListVMs"):
        bare, ours = (
            result[f"{call_name}, litestar targets' app"],
            result[f"{call_name}, the service"],
        )
        print(f"  {call_name:8} litestar {bare:6.0f} us  service {ours:6.0f} us"
              f"  ({ours - bare:+5.0f} us; litestar/service {bare / ours:.2f}x)")  # fmt: skip
    return result


def main(argv: list[str] | None = None) -> None:
    """Run against a mongod of its own."""
    import argparse
    import tempfile

    from service.storage.mongod import LocalMongod, free_port

    parser = argparse.ArgumentParser(prog="python -m bench.layers")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--ends", action="store_true", help="GetVM and ListVMs only")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="vm-layers-") as tmp:
        mongod = LocalMongod(Path(tmp) / "mongo", free_port())
        try:
            run(mongod.start(), args.rounds, args.requests, args.ends)
        finally:
            mongod.stop()


if __name__ == "__main__":
    main()
