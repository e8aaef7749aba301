"""Tracing on: the provider from the OTEL_* settings, the HTTP span (ServerSpanMiddleware), a span
per use case and per MongoDB command."""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import parse_qsl

from litestar.enums import ScopeType
from litestar.middleware.base import DefineMiddleware
from litestar.types import ASGIApp, HTTPScope, Message, Receive, Scope, Send
from opentelemetry import context, propagate, trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    ParentBased,
    Sampler,
    TraceIdRatioBased,
)
from opentelemetry.semconv.attributes.error_attributes import ERROR_TYPE
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer
from pymongo.monitoring import CommandListener

from service.config import Settings
from service.http.tracing import NoTracing
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
    GetVM; this costs ~15 us unsampled (README "Operating it").
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
        span = self.tracer.start_span(
            f"{method} {template}",
            parent,
            kind=SpanKind.SERVER,
            attributes={"http.request.method": method, "http.route": template},
        )
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


def _request_attributes(scope: HTTPScope, template: str) -> dict[str, Any]:
    attributes: dict[str, Any] = {
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
    name = getattr(scope.get("user"), "name", None)  # the API key's, once authenticated
    if isinstance(name, str):
        span.set_attribute(API_KEY_NAME, name)


def use_case_spans(service: T, tracer: Tracer) -> T:
    """`service` seen through a subclass whose public async methods (its use cases) are each an
    INTERNAL span `<Service>.<method>` when called inside a recorded span (a sampled request's;
    no arguments recorded: they hold documents); a method returning a stream (ExportVMs'
    batches) is one span from the call until the stream is done. It shares `service`'s state,
    and is one (isinstance), as Litestar checks of a dependency."""
    cls = type(service)
    wrapped: dict[str, Any] = {}
    for name, function in inspect.getmembers(cls, inspect.isfunction):
        span_name = f"{cls.__name__}.{name}"
        if name.startswith("_"):
            continue
        if inspect.isasyncgenfunction(function):
            wrapped[name] = _stream(span_name, function, tracer)
        elif inspect.iscoroutinefunction(function):
            wrapped[name] = _call(span_name, function, tracer)
    traced: Any = object.__new__(type(cls.__name__, (cls,), wrapped))
    traced.__dict__ = service.__dict__
    result: T = traced
    return result


def _call(span_name: str, method: Callable[..., Any], tracer: Tracer) -> Callable[..., Any]:
    @functools.wraps(method)
    async def call(*args: Any, **kwargs: Any) -> Any:
        if not trace.get_current_span().is_recording():  # unsampled, or no request's
            return await method(*args, **kwargs)
        with tracer.start_as_current_span(
            span_name, record_exception=False, set_status_on_exception=False
        ) as span:
            try:
                return await method(*args, **kwargs)
            except Exception as exc:
                _failed(span, exc)
                raise

    return call


def _stream(span_name: str, method: Callable[..., Any], tracer: Tracer) -> Callable[..., Any]:
    @functools.wraps(method)
    def call(*args: Any, **kwargs: Any) -> Any:
        if not trace.get_current_span().is_recording():
            return method(*args, **kwargs)
        return SpanStream(tracer.start_span(span_name), method(*args, **kwargs))

    return call


class SpanStream:
    """An async stream inside `span`, which ends when the stream does: each step runs with the
    span current (the MongoDB commands it sends are its children), never across a yield."""

    def __init__(self, span: Span, stream: Any) -> None:
        """Wrap the async generator `stream`."""
        self.span = span
        self.stream = stream
        self.items = self.rows = 0

    def __aiter__(self) -> AsyncIterator[Any]:
        """This stream."""
        return self

    async def __anext__(self) -> Any:
        """The next item, counted on the span."""
        with trace.use_span(
            self.span, end_on_exit=False, record_exception=False, set_status_on_exception=False
        ):
            try:
                item = await self.stream.__anext__()
            except StopAsyncIteration:
                self._end()
                raise
            except BaseException as exc:
                if isinstance(exc, Exception):
                    _failed(self.span, exc)
                self._end()
                raise
        self.items += 1
        self.rows += len(item) if isinstance(item, list) else 1
        return item

    async def aclose(self) -> None:
        """Close the stream (its cursor) and end the span."""
        try:
            with trace.use_span(
                self.span, end_on_exit=False, record_exception=False, set_status_on_exception=False
            ):
                await self.stream.aclose()
        finally:
            self._end()

    def _end(self) -> None:
        if self.span.is_recording():
            self.span.set_attributes(
                {"vm_inventory.stream.items": self.items, "vm_inventory.stream.rows": self.rows}
            )
            self.span.end()


def _failed(span: Span, exc: Exception) -> None:
    # The exception's class only: its message may quote a document (a name already taken).
    span.set_attribute(ERROR_TYPE, type(exc).__name__)
    span.set_status(Status(StatusCode.ERROR))
