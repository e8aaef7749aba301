"""A span per use case: the domain services' public async methods, seen through a subclass."""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

from opentelemetry import trace
from opentelemetry.semconv.attributes.error_attributes import ERROR_TYPE
from opentelemetry.trace import Span, Status, StatusCode, Tracer

T = TypeVar("T")


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
    async def in_span(*args: Any, **kwargs: Any) -> Any:
        with tracer.start_as_current_span(
            span_name, record_exception=False, set_status_on_exception=False
        ) as span:
            try:
                return await method(*args, **kwargs)
            except Exception as exc:
                _failed(span, exc)
                raise

    # Not a coroutine function itself: unsampled, the caller awaits the method's own coroutine.
    @functools.wraps(method)
    def call(*args: Any, **kwargs: Any) -> Any:
        if not trace.get_current_span().is_recording():  # unsampled, or no request's
            return method(*args, **kwargs)
        return in_span(*args, **kwargs)

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
