"""Tracing on: the provider from the OTEL_* settings, the HTTP span (ServerSpanMiddleware), a span
per use case and per MongoDB command."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, TypeVar
from urllib.parse import parse_qsl

from litestar.enums import ScopeType
from litestar.middleware.base import DefineMiddleware
from litestar.types import ASGIApp, HTTPScope, Message, Receive, Scope, Send
from opentelemetry import context, propagate, trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk import trace as sdk_trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    Decision,
    ParentBased,
    Sampler,
    TraceIdRatioBased,
)
from opentelemetry.semconv.attributes.error_attributes import ERROR_TYPE
from opentelemetry.trace import (
    NonRecordingSpan,
    Span,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    Tracer,
)
from pymongo.monitoring import CommandListener

from service.config import Settings
from service.http.middleware.auth import caller_name
from service.http.tracing import NoTracing
from service.http.tracing.use_cases import use_case_spans
from service.storage.tracing import CommandSpans

T = TypeVar("T")
# Probes and scrapes every few seconds would drown the requests' traces.
UNTRACED_PREFIXES = ("/health/", "/metrics", "/schema")
API_KEY_NAME = "vm_inventory.api_key.name"
OPERATION_ID = "vm_inventory.operation_id"
QUERY_PARAMS = "vm_inventory.query.parameters"


def sampler(settings: Settings) -> Sampler:
    """OTEL_TRACES_SAMPLER (with OTEL_TRACES_SAMPLER_ARG for the ratio) as the SDK reads it."""
    ratio = TraceIdRatioBased(settings.otel_traces_sampler_arg)
    return {
        "always_on": ALWAYS_ON,
        "always_off": ALWAYS_OFF,
        "traceidratio": ratio,
        "parentbased_always_on": ParentBased(ALWAYS_ON),
        "parentbased_always_off": ParentBased(ALWAYS_OFF),
        "parentbased_traceidratio": ParentBased(ratio),
    }[settings.otel_traces_sampler]


def provider_from(settings: Settings) -> TracerProvider:
    """Spans batched to OTLP/HTTP at OTEL_EXPORTER_OTLP_ENDPOINT/v1/traces; the exporter and
    batch processor read their other OTEL_* variables (headers, timeout, delays) themselves."""
    endpoint = str(settings.otel_exporter_otlp_endpoint).rstrip("/") + "/v1/traces"
    provider = TracerProvider(
        sampler=sampler(settings),
        resource=Resource.create({SERVICE_NAME: settings.otel_service_name}),
    )
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    return provider


class Tracing(NoTracing):
    """Tracing on, with `provider` (shut down with the app when `owned`)."""

    def __init__(self, provider: TracerProvider, owned: bool) -> None:
        """Trace with `provider`."""
        self.provider = provider
        self.owned = owned
        self.tracer = provider.get_tracer("service.http")
        # Its ids presettable by the HTTP span (once: a provider has one tracer of a name).
        tracer = self.tracer
        if isinstance(tracer, sdk_trace.Tracer) and not isinstance(
            tracer.id_generator, PresetTraceIds
        ):
            tracer.id_generator = PresetTraceIds(tracer.id_generator)

    def listeners(self) -> Sequence[CommandListener]:
        """A span per MongoDB command run inside a traced request."""
        return [CommandSpans(self.provider)]

    def traced(self, service: T) -> T:
        """`service` with a span around each call of its public async methods (its use cases)."""
        return use_case_spans(service, self.tracer)

    def middleware(self) -> list[DefineMiddleware]:
        """The HTTP span, outermost of the app's middleware."""
        return [DefineMiddleware(ServerSpanMiddleware, tracer=self.tracer)]

    async def close(self) -> None:
        """Flush and stop the exporter of a provider made from the settings."""
        if self.owned:
            await asyncio.to_thread(self.provider.shutdown)


class ServerSpanMiddleware:
    """One SERVER span per request, `<method> <route template>`, under the caller's W3C
    `traceparent` when it sends one, its id in the `traceresponse` header (W3C Trace Context
    level 2) and in `scope["trace_id"]` (for the access line). A stream (watch, export) is one
    span until its last byte: none per chunk.

    The HTTP semantic conventions, except that `url.path` is the route template and the query
    only its parameter names: the raw path and query hold VM ids, names and label values.

    Not opentelemetry-instrumentation-asgi (through Litestar's OpenTelemetryPlugin), measured
    first: it cost ~120 us of CPU per GetVM with nothing sampled (request attributes, metrics
    instruments, a response propagator, span wrappers built per request), which is ~18% of a
    GetVM. Unsampled, this decides sampling before the SDK is asked for a span (`_start`): with
    the use cases and commands skipped, tracing costs an unsampled GetVM ~40 us (README).
    """

    def __init__(self, app: ASGIApp, tracer: Tracer) -> None:
        """Wrap `app` (after routing: the route template is known)."""
        self.app = app
        self.tracer = tracer
        propagator = propagate.get_global_textmap()
        self.fields = frozenset(name.encode() for name in propagator.fields)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the request inside its span."""
        if scope["type"] != ScopeType.HTTP or scope["path"].startswith(UNTRACED_PREFIXES):
            await self.app(scope, receive, send)
            return
        carrier = {
            k.decode("latin-1"): v.decode("latin-1")
            for k, v in scope["headers"]
            if k in self.fields
        }
        parent = propagate.extract(carrier) if carrier else None
        method, template = scope["method"], scope.get("path_template") or scope["path"]
        span = self._start(f"{method} {template}", parent)
        if span.is_recording():
            span.set_attributes(_request_attributes(scope, template))
        ids = span.get_span_context()
        trace_id = scope["trace_id"] = f"{ids.trace_id:032x}"  # type: ignore[typeddict-unknown-key]
        traceresponse = (
            b"traceresponse",
            f"00-{trace_id}-{ids.span_id:016x}-{ids.trace_flags:02x}".encode(),
        )

        async def send_in_span(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), traceresponse]
                if span.is_recording():
                    _response_attributes(span, scope, message["status"])
            await send(message)

        token = context.attach(trace.set_span_in_context(span, parent))
        try:
            await self.app(scope, receive, send_in_span)
        except BaseException as exc:
            if span.is_recording():
                span.set_attribute(ERROR_TYPE, type(exc).__name__)
                span.set_status(Status(StatusCode.ERROR))
            raise
        finally:
            context.detach(token)
            span.end()

    def _start(self, name: str, parent: context.Context | None) -> Span:
        """The request's span: sampled first, and when it is not, a NonRecordingSpan made here,
        ~4 us of CPU where the SDK's start_span takes ~15 us (validating and building its
        arguments, flags and ids twice). A sampled span is the SDK's, given the trace id
        sampled (the samplers decide by it, or by the parent's flags: the same answer twice)."""
        tracer = self.tracer
        ids = getattr(tracer, "id_generator", None)
        if not isinstance(tracer, sdk_trace.Tracer) or not isinstance(ids, PresetTraceIds):
            return tracer.start_span(name, parent, kind=SpanKind.SERVER)  # the SDK disabled
        parent_ids = trace.get_current_span(parent).get_span_context()
        if parent_ids.is_valid:
            trace_id, random_id = parent_ids.trace_id, parent_ids.trace_flags.random_trace_id
        else:
            trace_id, random_id = ids.ids.generate_trace_id(), ids.ids.is_trace_id_random()
        sampled = tracer.sampler.should_sample(parent, trace_id, name, SpanKind.SERVER)
        if sampled.decision is Decision.DROP:  # RECORD_ONLY records, as the SDK would
            flags = TraceFlags(TraceFlags.RANDOM_TRACE_ID if random_id else TraceFlags.DEFAULT)
            span_id = ids.generate_span_id()
            return NonRecordingSpan(
                SpanContext(trace_id, span_id, False, flags, sampled.trace_state)
            )
        if not parent_ids.is_valid:
            ids.next_trace_id = trace_id
        try:
            return tracer.start_span(name, parent, kind=SpanKind.SERVER)
        finally:
            ids.next_trace_id = 0


class PresetTraceIds(IdGenerator):
    """`ids`, except that the next trace id is `next_trace_id` when set (by the HTTP span, which
    sampled it already)."""

    def __init__(self, ids: IdGenerator) -> None:
        """Generate with `ids`."""
        self.ids = ids
        self.next_trace_id = 0

    def generate_span_id(self) -> int:
        """A new span id."""
        return self.ids.generate_span_id()

    def generate_trace_id(self) -> int:
        """The preset trace id (once), else a new one."""
        trace_id, self.next_trace_id = self.next_trace_id, 0
        return trace_id or self.ids.generate_trace_id()

    def is_trace_id_random(self) -> bool:
        """Whether `ids` makes random trace ids (W3C level 2's random-trace-id flag)."""
        return self.ids.is_trace_id_random()


def _request_attributes(scope: HTTPScope, template: str) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        "http.request.method": scope["method"],
        "http.route": template,
        "url.path": template,
        "url.scheme": scope.get("scheme", "http"),
        "network.protocol.version": scope.get("http_version", "1.1"),
    }
    if server := scope.get("server"):
        attributes["server.address"], attributes["server.port"] = server[0], server[1] or 80
    if client := scope.get("client"):
        attributes["client.address"] = client[0]
    for key, value in scope["headers"]:
        if key == b"user-agent":
            attributes["user_agent.original"] = value.decode("latin-1")
    names = sorted({name for name, _ in parse_qsl(scope["query_string"].decode("latin-1"))})
    if names:
        attributes[QUERY_PARAMS] = names
    handler = scope.get("route_handler")
    operation = getattr(handler, "operation_id", None)
    if callable(operation):  # get_and_head's: GetVM, or GetVMHead for HEAD
        operation = operation(handler, scope["method"], [])
    if isinstance(operation, str):
        attributes[OPERATION_ID] = operation
    return attributes


def _response_attributes(span: Span, scope: HTTPScope, status: int) -> None:
    span.set_attribute("http.response.status_code", status)
    if status >= 500:
        span.set_attribute(ERROR_TYPE, str(status))
        span.set_status(Status(StatusCode.ERROR))
    if (name := caller_name(scope)) is not None:  # the API key's, once authenticated
        span.set_attribute(API_KEY_NAME, name)
