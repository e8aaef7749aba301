"""Tracing end to end: `serve` with OTEL_* set exports over OTLP/HTTP to a receiver this test
runs (a tiny HTTP server decoding /v1/traces protobuf), and a watch is one span for its life."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from bench.server_process import ServerProcess
from tests.e2e.servers import own_server
from tests.e2e.sse import Watch

WAIT_S = 60.0  # a bound against hangs only: the server exports every 0.2 s
CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"


class Receiver:
    """An OTLP/HTTP trace receiver on 127.0.0.1: keeps every span and the resources' attributes."""

    def __init__(self) -> None:
        """Listen on a free port (in a thread)."""
        self.spans: list[Span] = []
        self.resources: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                request = ExportTraceServiceRequest()
                request.ParseFromString(body)
                with receiver.lock:
                    receiver.paths.append(f"{self.path} {self.headers['Content-Type']}")
                    for resource_spans in request.resource_spans:
                        receiver.resources.append(_attributes(resource_spans.resource.attributes))
                        for scope_spans in resource_spans.scope_spans:
                            receiver.spans.extend(scope_spans.spans)
                answer = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def trace(self, trace_id: str) -> list[Span]:
        """The spans received so far of one trace."""
        with self.lock:
            return [s for s in self.spans if s.trace_id.hex() == trace_id]

    def wait_for(self, trace_id: str, name: str) -> list[Span]:
        """The trace once a span called `name` arrived in it."""
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            spans = self.trace(trace_id)
            if any(s.name == name for s in spans):
                return spans
            time.sleep(0.1)
        raise TimeoutError(f"no span {name!r} in trace {trace_id}: {self.trace(trace_id)}")

    def close(self) -> None:
        """Stop listening."""
        self.server.shutdown()
        self.server.server_close()


def _attributes(pairs: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        kind = pair.value.WhichOneof("value")
        out[pair.key] = getattr(pair.value, kind) if kind else None
    return out


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    """The collector stand-in."""
    receiver = Receiver()
    try:
        yield receiver
    finally:
        receiver.close()


@pytest.fixture(scope="module")
def server(mongo_url: str, receiver: Receiver) -> Iterator[ServerProcess]:
    """`serve` tracing every request to the receiver."""
    with own_server(
        mongo_url,
        "e2e_otlp",
        OTEL_EXPORTER_OTLP_ENDPOINT=receiver.url,
        OTEL_SERVICE_NAME="vm-inventory-e2e",
        OTEL_TRACES_SAMPLER="parentbased_traceidratio",
        OTEL_TRACES_SAMPLER_ARG="1",
        OTEL_BSP_SCHEDULE_DELAY="200",
        WATCH_HEARTBEAT_SECONDS="0.5",
    ) as process:
        yield process


def _vm(name: str) -> dict[str, Any]:
    return {"name": name, "os": "ubuntu", "cpu_cores": 2, "memory_mib": 1024, "storage_gib": 10}


def test_spans_reach_the_collector_over_otlp_http(
    server: ServerProcess, receiver: Receiver
) -> None:
    name = f"otlp-{uuid.uuid4().hex[:8]}"
    r = httpx.post(
        f"{server.base_url}/api/v1/vms",
        json=_vm(name),
        headers={**server.headers, "traceparent": f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"},
    )
    assert r.status_code == 201, r.text
    assert r.headers["traceresponse"].startswith(f"00-{CALLER_TRACE}-")
    spans = receiver.wait_for(CALLER_TRACE, "POST /api/v1/vms")
    spans = receiver.wait_for(CALLER_TRACE, "insert vms")
    by_name = {s.name: s for s in spans}
    http, use_case, insert = (
        by_name["POST /api/v1/vms"], by_name["VMService.create_vm"], by_name["insert vms"]
    )  # fmt: skip
    assert http.kind == Span.SPAN_KIND_SERVER and http.parent_span_id.hex() == CALLER_SPAN
    assert use_case.parent_span_id == http.span_id
    assert insert.parent_span_id == use_case.span_id and insert.kind == Span.SPAN_KIND_CLIENT
    attributes = _attributes(http.attributes)
    assert attributes["http.route"] == "/api/v1/vms"
    assert attributes["vm_inventory.api_key.name"] == "dev"
    assert _attributes(insert.attributes)["db.system.name"] == "mongodb"
    assert {"service.name": "vm-inventory-e2e"}.items() <= receiver.resources[-1].items()
    assert all(p == "/v1/traces application/x-protobuf" for p in receiver.paths)
    for span in spans:
        text = span.name + str(_attributes(span.attributes))
        assert name not in text and server.token not in text


async def test_a_watch_is_one_span_for_its_lifetime(
    server: ServerProcess, receiver: Receiver
) -> None:
    tag = uuid.uuid4().hex[:8]
    async with (
        httpx.AsyncClient(base_url=server.base_url, headers=server.headers, timeout=30) as http,
        Watch(http, {"name_prefix": f"watched-{tag}"}) as stream,
    ):
        assert stream.response.status_code == 200
        trace_id = stream.response.headers["traceresponse"].split("-")[1]
        for i in range(3):
            created = await http.post("/api/v1/vms", json=_vm(f"watched-{tag}-{i}"))
            assert created.status_code == 201
        first_event_ns = None
        events = []
        while len(events) < 3:
            event = await stream.next()
            assert event is not None
            if event.event != "BOOKMARK":
                first_event_ns = first_event_ns or time.time_ns()
                events.append(event)
        # Heartbeats and BOOKMARKs pass too while the stream stays open a little.
        for _ in range(2):
            assert await stream.next() is not None
    spans = receiver.wait_for(trace_id, "GET /api/v1/vms/watch")
    (watch,) = [s for s in spans if s.kind == Span.SPAN_KIND_SERVER]
    assert first_event_ns is not None
    assert watch.start_time_unix_nano < first_event_ns < watch.end_time_unix_nano
    # Whatever the request did before streaming has spans; no event, heartbeat or bookmark did.
    assert all(s.start_time_unix_nano < first_event_ns for s in spans), [s.name for s in spans]
