"""OpenTelemetry traces, read from an in-memory exporter: one trace per request (the HTTP span,
the use case, a span per MongoDB command), W3C traceparent continued, the trace id in the
response, the access log and every 5xx, and no secret or document value in any attribute."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.id_generator import IdGenerator, RandomIdGenerator
from opentelemetry.sdk.trace.sampling import TraceIdRatioBased
from opentelemetry.trace import SpanKind, StatusCode

from service.config import Settings
from service.http.app import create_app
from service.http.logs import JsonFormatter
from service.storage import bulk as storage_bulk
from service.storage.mongod import free_port
from tests.api.helpers import BASE, Client, assert_problem, vm_body

pytestmark = pytest.mark.usefixtures("clean")
# Values that only a document holds: none may reach a span.
SECRETS = ("trace-web-7f3a", "os-only-in-doc", "label-value-9c1e", "described-in-doc")
CALLER_TRACE = "0af7651916cd43dd8448eb211c80319c"
CALLER_SPAN = "b7ad6b7169203331"


def doc(name: str = "trace-web-7f3a", **overrides: Any) -> dict[str, Any]:
    """A CreateVM body full of values to look for in the spans."""
    return vm_body(
        name=name,
        os="os-only-in-doc",
        labels={"team": "label-value-9c1e"},
        description="described-in-doc",
        **overrides,
    )


@pytest.fixture(scope="module")
def exporter() -> InMemorySpanExporter:
    """Every finished span of the module's apps."""
    return InMemorySpanExporter()


@pytest.fixture(scope="module")
def provider(exporter: InMemorySpanExporter) -> TracerProvider:
    """A provider sampling everything into `exporter` at once."""
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider


@pytest.fixture(scope="module")
async def traced(
    settings: Settings, admin_token: str, provider: TracerProvider
) -> AsyncIterator[Client]:
    """The app tracing into `provider`."""
    async with AsyncTestClient(app=create_app(settings, tracer_provider=provider)) as client:
        client.headers["Authorization"] = f"Bearer {admin_token}"
        yield client


@pytest.fixture
def spans(exporter: InMemorySpanExporter) -> InMemorySpanExporter:
    """The exporter, emptied before the test."""
    exporter.clear()
    return exporter


def trace_id_of(response: Any) -> str:
    """The trace id the response names in `traceresponse` (W3C Trace Context level 2)."""
    version, trace_id, _span_id, _flags = response.headers["traceresponse"].split("-")
    assert version == "00" and len(trace_id) == 32
    return str(trace_id)


def trace_of(exporter: InMemorySpanExporter, trace_id: str) -> list[ReadableSpan]:
    """The finished spans of one trace."""
    return [
        s
        for s in exporter.get_finished_spans()
        if s.context is not None and f"{s.context.trace_id:032x}" == trace_id
    ]


def children(spans: list[ReadableSpan], parent: ReadableSpan) -> list[ReadableSpan]:
    """The spans whose parent is `parent`."""
    assert parent.context is not None
    return [s for s in spans if s.parent is not None and s.parent.span_id == parent.context.span_id]


def one(spans: list[ReadableSpan], name: str) -> ReadableSpan:
    """The only span called `name`."""
    found = [s for s in spans if s.name == name]
    assert len(found) == 1, [s.name for s in spans]
    return found[0]


def server_span(spans: list[ReadableSpan]) -> ReadableSpan:
    """The trace's HTTP span (its root here)."""
    servers = [s for s in spans if s.kind == SpanKind.SERVER]
    assert len(servers) == 1, [s.name for s in spans]
    return servers[0]


def assert_no_secret(spans: list[ReadableSpan], *secrets: str) -> None:
    """No span name, attribute or event holds any of `secrets`."""
    assert spans
    for span in spans:
        texts = [span.name, *(str(v) for v in (span.attributes or {}).values())]
        texts += [str(span.status.description)]
        texts += [str(e.attributes) for e in span.events]
        for secret in secrets:
            assert not any(secret in text for text in texts), (span.name, secret, texts)


def assert_command(span: ReadableSpan, operation: str, collection: str) -> None:
    """A MongoDB command span under the database semantic conventions."""
    attributes = span.attributes or {}
    assert span.kind == SpanKind.CLIENT
    assert span.name == f"{operation} {collection}"
    assert attributes["db.system.name"] == "mongodb"
    assert attributes["db.operation.name"] == operation
    assert attributes["db.collection.name"] == collection
    assert isinstance(attributes["db.namespace"], str) and attributes["db.namespace"]
    assert attributes["server.address"] and attributes["server.port"]


async def test_create_vm_is_http_span_use_case_and_insert(
    traced: Client, spans: InMemorySpanExporter, admin_token: str
) -> None:
    r = await traced.post(BASE, json=doc())
    assert r.status_code == 201, r.text
    trace = trace_of(spans, trace_id_of(r))
    root = server_span(trace)
    assert root.parent is None
    assert root.name == "POST /api/v1/vms"
    attributes = root.attributes or {}
    assert attributes["http.route"] == "/api/v1/vms"
    assert attributes["http.response.status_code"] == 201
    assert attributes["vm_inventory.operation_id"] == "CreateVM"
    assert attributes["vm_inventory.api_key.name"] == "test-admin"
    assert attributes["http.request.method"] == "POST"
    assert attributes["url.path"] == "/api/v1/vms"
    use_case = one(trace, "VMService.create_vm")
    assert use_case.kind == SpanKind.INTERNAL
    assert use_case.parent is not None and root.context is not None
    assert use_case.parent.span_id == root.context.span_id
    # One transaction: the VM, its project's usage (service.storage.usage), the commit.
    insert, usage, commit = children(trace, use_case)
    assert_command(insert, "insert", "vms")
    assert_command(usage, "update", "project_usage")
    assert commit.name == "commitTransaction"
    assert insert.status.status_code == StatusCode.UNSET
    assert_no_secret(trace, admin_token, *SECRETS, r.json()["id"])


async def test_list_vms_names_route_and_parameters_never_values(
    traced: Client, spans: InMemorySpanExporter, admin_token: str
) -> None:
    assert (await traced.post(BASE, json=doc())).status_code == 201
    spans.clear()
    r = await traced.get(
        BASE,
        params={"name_prefix": "trace-web-7f3a", "label": "team=label-value-9c1e"},
        headers={"traceparent": f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"},
    )
    assert r.status_code == 200 and len(r.json()["items"]) == 1
    # The caller's trace goes on: same trace id, its span the parent of ours.
    assert trace_id_of(r) == CALLER_TRACE
    trace = trace_of(spans, CALLER_TRACE)
    root = server_span(trace)
    assert root.parent is not None and root.parent.is_remote
    assert f"{root.parent.span_id:016x}" == CALLER_SPAN
    assert root.name == "GET /api/v1/vms"
    attributes = root.attributes or {}
    assert attributes["vm_inventory.operation_id"] == "ListVMs"
    assert attributes["vm_inventory.query.parameters"] == ("label", "name_prefix")
    assert attributes["url.path"] == "/api/v1/vms"
    (use_case,) = children(trace, root)
    assert use_case.name == "VMService.list_vms"
    commands = children(trace, use_case)
    assert commands
    assert_command(commands[0], "find", "vms")
    assert_no_secret(trace, admin_token, *SECRETS)


async def test_get_vm_by_raw_path_keeps_the_id_out(
    traced: Client, spans: InMemorySpanExporter
) -> None:
    vm = (await traced.post(BASE, json=doc())).json()
    spans.clear()
    r = await traced.get(f"{BASE}/{vm['id']}")
    assert r.status_code == 200
    trace = trace_of(spans, trace_id_of(r))
    root = server_span(trace)
    assert root.name == "GET /api/v1/vms/{vm_id}"
    assert (root.attributes or {})["url.path"] == "/api/v1/vms/{vm_id}"
    assert (root.attributes or {})["vm_inventory.operation_id"] == "GetVM"
    assert_no_secret(trace, vm["id"], *SECRETS)


async def test_batch_is_one_use_case_with_its_commands(
    traced: Client, spans: InMemorySpanExporter, admin_token: str
) -> None:
    operations = [{"op": "create", "vm": doc(name=f"trace-web-7f3a-{i}")} for i in range(3)]
    r = await traced.post(f"{BASE}/batch", json={"operations": operations, "atomic": False})
    assert r.status_code == 200, r.text
    trace = trace_of(spans, trace_id_of(r))
    root = server_span(trace)
    assert root.name == "POST /api/v1/vms/batch"
    assert (root.attributes or {})["vm_inventory.operation_id"] == "BatchVMs"
    use_case = one(children(trace, root), "BulkService.run_batch")
    below = _descendants(trace, use_case)
    inserts = [s for s in below if s.name == "insert vms"]
    assert len(inserts) == 1, render(trace)  # the three creates, one command
    assert (inserts[0].attributes or {})["db.operation.batch.size"] == 3
    assert "commitTransaction" in {s.name for s in below}  # the creates' own transaction
    # Every span of the request is the HTTP span's or below it (the key's last-use update
    # runs off the request path, after its answer).
    for span in trace:
        assert span is root or span in below or span.parent is not None
    assert_no_secret(trace, admin_token, *SECRETS)


def render(spans: list[ReadableSpan]) -> str:
    """The trace as an indented tree of `name  duration` lines (for failure messages)."""
    by_parent: dict[int | None, list[ReadableSpan]] = {}
    ids = {s.context.span_id for s in spans if s.context is not None}
    for span in sorted(spans, key=lambda s: s.start_time or 0):
        parent = span.parent.span_id if span.parent and span.parent.span_id in ids else None
        by_parent.setdefault(parent, []).append(span)
    lines: list[str] = []

    def walk(parent: int | None, depth: int) -> None:
        for span in by_parent.get(parent, []):
            took = ((span.end_time or 0) - (span.start_time or 0)) / 1e6
            lines.append(f"{'  ' * depth}{span.name}  {took:.1f} ms")
            walk(span.context.span_id if span.context else None, depth + 1)

    walk(None, 0)
    return "\n".join(lines)


def _descendants(spans: list[ReadableSpan], parent: ReadableSpan) -> list[ReadableSpan]:
    found = children(spans, parent)
    return found + [d for c in found for d in _descendants(spans, c)]


async def test_a_failed_command_names_its_code_never_the_value(
    traced: Client, spans: InMemorySpanExporter
) -> None:
    assert (await traced.post(BASE, json=doc())).status_code == 201
    spans.clear()
    r = await traced.post(BASE, json=doc())
    assert_problem(r, 409)
    trace = trace_of(spans, trace_id_of(r))
    root = server_span(trace)
    assert (root.attributes or {})["http.response.status_code"] == 409
    use_case = one(trace, "VMService.create_vm")
    assert use_case.status.status_code == StatusCode.ERROR
    assert (use_case.attributes or {})["error.type"] == "NameConflict"
    # The refused insert (ending its transaction), then the read naming the holder of the
    # name (the 409's holder_id).
    insert, *_, holder = children(trace, use_case)
    assert (insert.name, holder.name) == ("insert vms", "find vms")
    assert insert.status.status_code == StatusCode.ERROR
    assert (insert.attributes or {})["db.response.status_code"] == "11000"
    assert "trace_id" not in r.json()  # a 4xx: the caller's mistake, no trace to look at
    assert_no_secret(trace, *SECRETS)


async def test_export_is_one_span_for_the_stream(
    traced: Client, spans: InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(5):
        assert (await traced.post(BASE, json=doc(name=f"trace-web-7f3a-{i}"))).status_code == 201
    monkeypatch.setattr(storage_bulk, "EXPORT_BATCH_SIZE", 2)  # three batches
    spans.clear()
    r = await traced.get(f"{BASE}/export")
    assert r.status_code == 200 and len(r.text.splitlines()) == 5
    trace = trace_of(spans, trace_id_of(r))
    root = server_span(trace)
    (stream,) = children(trace, root)
    assert stream.name == "BulkService.export"
    assert (stream.attributes or {})["vm_inventory.stream.rows"] == 5
    assert (stream.attributes or {})["vm_inventory.stream.items"] == 3
    commands = {s.name for s in children(trace, stream)}
    assert "find vms" in commands and "getMore vms" in commands
    assert_no_secret(trace, *SECRETS)


async def test_an_unsampled_request_has_a_trace_id_and_no_span(
    traced: Client, spans: InMemorySpanExporter, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="service.access"):
        r = await traced.get(BASE, headers={"traceparent": f"00-{CALLER_TRACE}-{CALLER_SPAN}-00"})
    assert r.status_code == 200
    assert trace_id_of(r) == CALLER_TRACE
    assert r.headers["traceresponse"].endswith("-00")  # not sampled
    assert trace_of(spans, CALLER_TRACE) == []
    (line,) = _access_lines(caplog)
    assert line["trace_id"] == CALLER_TRACE


class CountingIds(IdGenerator):
    """Trace ids numbered in their upper half; their lower half (what TraceIdRatioBased reads)
    is low (sampled at 50%) for even numbers, high (dropped) for odd ones."""

    def __init__(self) -> None:
        """Start at 1."""
        self.number = 0
        self.spans = RandomIdGenerator()

    def generate_span_id(self) -> int:
        """A random span id."""
        return self.spans.generate_span_id()

    def generate_trace_id(self) -> int:
        """The next trace id."""
        self.number += 1
        return self.number << 64 | (1 if self.number % 2 == 0 else 2**64 - 1)


async def test_a_ratio_sampler_traces_each_sampled_trace_id_once_with_its_commands(
    settings: Settings, admin_token: str
) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=TraceIdRatioBased(0.5), id_generator=CountingIds())
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    async with AsyncTestClient(app=create_app(settings, tracer_provider=provider)) as client:
        client.headers["Authorization"] = f"Bearer {admin_token}"
        created = await client.post(BASE, json=vm_body(name="ratio-1"))
        assert created.status_code == 201
        responses = [await client.get(f"{BASE}/{created.json()['id']}") for _ in range(6)]
    numbers = []
    for r in responses:
        assert r.status_code == 200
        trace_id = trace_id_of(r)
        numbers.append(int(trace_id, 16) >> 64)
        spans = trace_of(exporter, trace_id)
        if numbers[-1] % 2 == 0:  # sampled: the header says so, the spans carry its trace id
            assert r.headers["traceresponse"].endswith("-01")
            root = server_span(spans)
            assert (root.attributes or {})["http.route"] == "/api/v1/vms/{vm_id}"
            assert "find vms" in {s.name for s in spans}
        else:
            assert r.headers["traceresponse"].endswith("-00")
            assert spans == []
    # One trace id per request, sampled or not: none drawn twice for a sampled one.
    assert numbers == list(range(numbers[0], numbers[0] + 6))
    traced = {f"{s.context.trace_id:032x}" for s in exporter.get_finished_spans() if s.context}
    assert traced <= {trace_id_of(r) for r in [created, *responses]}


def _access_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [
        json.loads(JsonFormatter().format(r)) for r in caplog.records if r.name == "service.access"
    ]


async def test_probes_and_scrapes_are_not_traced(
    traced: Client, spans: InMemorySpanExporter
) -> None:
    for path in ("/health/ready", "/health/live", "/metrics"):
        r = await traced.get(path)
        assert r.status_code == 200 and "traceresponse" not in r.headers
    assert spans.get_finished_spans() == ()


async def test_a_5xx_carries_the_trace_id_in_body_header_and_log(
    provider: TracerProvider, spans: InMemorySpanExporter, caplog: pytest.LogCaptureFixture
) -> None:
    down = Settings(
        _env_file=None,  # type: ignore[call-arg]
        mongodb_url=f"mongodb://127.0.0.1:{free_port()}/?directConnection=true",
        mongodb_timeout_ms=300,
    )
    async with AsyncTestClient(app=create_app(down, tracer_provider=provider)) as client:
        with caplog.at_level(logging.INFO, logger="service.access"):
            r = await client.get(BASE, headers={"Authorization": "Bearer vmi_not-a-real-token"})
    problem = assert_problem(r, 503)
    trace_id = trace_id_of(r)
    assert problem["trace_id"] == trace_id
    (line,) = _access_lines(caplog)
    assert (line["status"], line["trace_id"]) == (503, trace_id)
    root = server_span(trace_of(spans, trace_id))
    assert root.status.status_code == StatusCode.ERROR
    assert (root.attributes or {})["http.response.status_code"] == 503
    assert_no_secret(trace_of(spans, trace_id), "vmi_not-a-real-token")
