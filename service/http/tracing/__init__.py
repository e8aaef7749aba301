"""OpenTelemetry tracing, off unless OTEL_EXPORTER_OTLP_ENDPOINT is set: `setup` wires it into the
app; with it off nothing of opentelemetry is imported and no request pays for it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from litestar.middleware.base import DefineMiddleware
    from pymongo.monitoring import CommandListener

    from service.config import Settings

T = TypeVar("T")
_imported = False  # whether any app of this process traces (then opentelemetry is imported)


def current_trace_id() -> str | None:
    """The id of the trace the current request belongs to (32 hex digits; sampled or not), or
    None when it belongs to none."""
    if not _imported:
        return None
    from opentelemetry import trace

    context = trace.get_current_span().get_span_context()
    return f"{context.trace_id:032x}" if context.is_valid else None


class NoTracing:
    """Tracing off: every hook is empty."""

    def listeners(self) -> Sequence[CommandListener]:
        """The MongoDB clients' command listeners."""
        return ()

    def traced(self, service: T) -> T:
        """A domain service whose use cases are spans."""
        return service

    def middleware(self) -> list[DefineMiddleware]:
        """Middleware to put before the app's own."""
        return []

    async def close(self) -> None:
        """Send the spans still buffered (the app is stopping)."""


def setup(settings: Settings, provider: Any = None) -> NoTracing:
    """Tracing for an app: `provider` (a TracerProvider the caller owns, e.g. a test's), else one
    made from the OTEL_* settings, else none (NoTracing)."""
    global _imported
    owned = provider is None
    if owned and not settings.otel_exporter_otlp_endpoint:
        return NoTracing()
    from service.http.tracing.instrument import Tracing, provider_from

    _imported = True
    return Tracing(provider_from(settings) if owned else provider, owned=owned)
