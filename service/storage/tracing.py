"""A span per MongoDB command, from PyMongo's command monitoring (imported only with tracing on).

Not opentelemetry-instrumentation-pymongo: it registers one global listener that makes a root
trace of every command without a parent (the schema guard's heartbeat, the watch hub's getMore:
several a second), puts MongoDB's error message in the span status (a duplicate key error quotes
the document's value), and uses the older attribute names.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry import trace
from opentelemetry.semconv.attributes.db_attributes import (
    DB_COLLECTION_NAME,
    DB_NAMESPACE,
    DB_OPERATION_BATCH_SIZE,
    DB_OPERATION_NAME,
    DB_RESPONSE_STATUS_CODE,
    DB_SYSTEM_NAME,
)
from opentelemetry.semconv.attributes.error_attributes import ERROR_TYPE
from opentelemetry.semconv.attributes.server_attributes import SERVER_ADDRESS, SERVER_PORT
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, TracerProvider
from pymongo import AsyncMongoClient, monitoring

# The commands' fields that hold their documents: only their count becomes an attribute.
_BATCHES = {"insert": "documents", "update": "updates", "delete": "deletes"}
# Spans of commands whose reply never came (a connection dropped mid-command) are ended past it.
MAX_OPEN_SPANS = 10_000


class _OnlyInRecordedSpans(monitoring._EventListeners):
    """A client's listeners, told of commands only inside a recorded span: the driver then builds
    no command events (their documents' copies, ids, timings) for an unsampled request's."""

    @property
    def enabled_for_commands(self) -> bool:
        """Whether the command about to be sent is seen: the current span is recorded."""
        return trace.get_current_span().is_recording()


def only_in_recorded_spans(client: AsyncMongoClient[Any]) -> None:
    """Make `client` publish command events only inside a recorded span (~30 us of CPU saved per
    unsampled GetVM). PyMongo decides once per command whether to publish (the events and their
    operation id), so a command's started and succeeded events always come together.

    Its listeners are a private class of PyMongo's, swapped for a subclass; with a mongodb+srv URL
    they are built at the first connection and stay ungated (every command builds its events)."""
    listeners = client._event_listeners
    if type(listeners) is monitoring._EventListeners:
        listeners.__class__ = _OnlyInRecordedSpans


class CommandSpans(monitoring.CommandListener):
    """A CLIENT span per command run inside a recorded span (a request's), named
    `<command> <collection>`, with the database semantic conventions and no document value:
    the command's name, database, collection, server, batch size, and on failure its code."""

    def __init__(self, provider: TracerProvider) -> None:
        """Make spans with `provider`'s tracer."""
        self._tracer = provider.get_tracer("service.storage")
        self._open: dict[tuple[int, Any], Span] = {}

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        """Open the command's span, under the current one (none outside a traced request)."""
        if not trace.get_current_span().is_recording():
            return
        name = event.command_name
        target = event.command.get(name)
        collection = target if isinstance(target, str) else event.command.get("collection")
        attributes: dict[str, str | int] = {
            DB_SYSTEM_NAME: "mongodb",
            DB_NAMESPACE: event.database_name,
            DB_OPERATION_NAME: name,
        }
        if isinstance(collection, str):
            attributes[DB_COLLECTION_NAME] = collection
        host, port = event.connection_id
        attributes[SERVER_ADDRESS], attributes[SERVER_PORT] = host, port or 27017
        batch = event.command.get(_BATCHES.get(name, ""))
        if isinstance(batch, list) and len(batch) > 1:
            attributes[DB_OPERATION_BATCH_SIZE] = len(batch)
        span_name = f"{name} {collection}" if isinstance(collection, str) else name
        span = self._tracer.start_span(span_name, kind=SpanKind.CLIENT, attributes=attributes)
        if len(self._open) >= MAX_OPEN_SPANS:
            self._open.pop(next(iter(self._open))).end()
        self._open[(event.request_id, event.connection_id)] = span

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        """End the command's span; a reply with write errors (a duplicate key) marks it failed."""
        span = self._open.pop((event.request_id, event.connection_id), None)
        if span is None:
            return
        errors = event.reply.get("writeErrors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            _failed(span, errors[0])
        span.end()

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        """End the command's span as failed: MongoDB's code and code name, never its message."""
        span = self._open.pop((event.request_id, event.connection_id), None)
        if span is None:
            return
        _failed(span, event.failure)
        span.end()


def _failed(span: Span, failure: Mapping[str, Any]) -> None:
    code, code_name = failure.get("code"), failure.get("codeName")
    if code is not None:
        span.set_attribute(DB_RESPONSE_STATUS_CODE, str(code))
    # The driver's own failures (a reset connection, a timeout) have its exception's name.
    error = code_name if isinstance(code_name, str) else failure.get("errtype", str(code))
    span.set_attribute(ERROR_TYPE, error)
    span.set_status(Status(StatusCode.ERROR))
