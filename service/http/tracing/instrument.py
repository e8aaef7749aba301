"""Tracing on: the provider from the OTEL_* settings, the HTTP span (opentelemetry's ASGI
instrumentation through Litestar's plugin), a span per use case and per MongoDB command."""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlsplit

from litestar.enums import ScopeType
from litestar.middleware.base import DefineMiddleware
from litestar.plugins import PluginProtocol
from litestar.plugins.opentelemetry import OpenTelemetryConfig, OpenTelemetryPlugin
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.propagators import (
    TraceResponsePropagator,
    set_global_response_propagator,
)
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
from opentelemetry.trace import Span, Status, StatusCode, Tracer
from pymongo.monitoring import CommandListener

from service.config import Settings
from service.http.tracing import NoTracing
from service.storage.tracing import CommandSpans

T = TypeVar("T")
# Probes and scrapes every few seconds would drown the requests' traces.
UNTRACED_PATHS = ["^/health/", "^/metrics", "^/schema"]
# Never a span attribute, whatever OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_* asks for.
SECRET_HEADERS = ["authorization", "proxy-authorization", "cookie", "set-cookie"]
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
        """Trace with `provider`; the response header `traceresponse` carries the trace id."""
        self.provider = provider
        self.owned = owned
        self.tracer = provider.get_tracer("service.http")
        set_global_response_propagator(TraceResponsePropagator())  # type: ignore[no-untyped-call]

    def listeners(self) -> Sequence[CommandListener]:
        """A span per MongoDB command run inside a traced request."""
        return [CommandSpans(self.provider)]

    def traced(self, service: T) -> T:
        """`service` with a span around each call of its public async methods (its use cases)."""
        return use_case_spans(service, self.tracer)

    def middleware(self) -> list[DefineMiddleware]:
        """The route template, operation id and API key name on the HTTP span."""
        return [DefineMiddleware(SpanDetailsMiddleware)]

    def plugins(self) -> list[PluginProtocol]:
        """Litestar's OpenTelemetry plugin: the ASGI instrumentation around the whole app, W3C
        traceparent continued, one span per request (none per body chunk: a watch or an export
        is one span for its lifetime)."""
        config = OpenTelemetryConfig(
            tracer_provider=self.provider,
            exclude=UNTRACED_PATHS,
            exclude_spans=["receive", "send"],
            scope_span_details_extractor=_method_only,
            http_capture_headers_sanitize_fields=SECRET_HEADERS,
        )
        return [OpenTelemetryPlugin(config)]

    async def close(self) -> None:
        """Flush and stop the exporter of a provider made from the settings."""
        if self.owned:
            await asyncio.to_thread(self.provider.shutdown)


def _method_only(scope: Scope) -> tuple[str, dict[str, Any]]:
    # Before routing only the method is known (a raw path is no span name: it holds ids and
    # names); SpanDetailsMiddleware renames the span once the route is.
    return str(scope.get("method", "HTTP")), {}


class SpanDetailsMiddleware:
    """Outermost app middleware (after routing): names the HTTP span `<method> <route template>`,
    replaces the raw path and query (VM ids and names, filter values) in its attributes by the
    template and the parameter names, and adds the operation id and the API key's name."""

    def __init__(self, app: ASGIApp) -> None:
        """Wrap `app`."""
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Describe the request on its span, then pass it on."""
        span = trace.get_current_span()
        if scope["type"] != ScopeType.HTTP or not span.is_recording():
            await self.app(scope, receive, send)
            return
        template = scope.get("path_template") or scope["path"]
        span.update_name(f"{scope['method']} {template}")
        attributes = getattr(span, "attributes", None) or {}
        details: dict[str, Any] = {"http.route": template}
        for key in ("http.target", "url.path"):
            if key in attributes:
                details[key] = template
        for key in ("http.url", "url.full"):
            if isinstance(attributes.get(key), str):
                details[key] = urlsplit(attributes[key])._replace(path=template, query="").geturl()
        names = sorted({name for name, _ in parse_qsl(scope["query_string"].decode("latin-1"))})
        if "url.query" in attributes:
            details["url.query"] = "&".join(names)
        if names:
            details[QUERY_PARAMS] = names
        handler = scope.get("route_handler")
        operation = getattr(handler, "operation_id", None)
        if callable(operation):  # get_and_head's: GetVM, or GetVMHead for HEAD
            operation = operation(handler, scope["method"], [])
        if isinstance(operation, str):
            details[OPERATION_ID] = operation
        span.set_attributes(details)

        async def send_naming_key(message: Message) -> None:
            # At the response's start: the span ends with the last body chunk, before we return.
            if message["type"] == "http.response.start":
                name = getattr(scope.get("user"), "name", None)
                if isinstance(name, str):
                    span.set_attribute(API_KEY_NAME, name)
            await send(message)

        await self.app(scope, receive, send_naming_key)


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
