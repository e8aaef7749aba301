"""Problem+json: the ONE place HTTP statuses are assigned to domain errors (STATUS), and the
RFC 9457 bodies for domain errors, Litestar's own HTTP errors and unexpected ones."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import msgspec
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import OpenAPIResponse, Operation
from litestar.plugins.problem_details import (
    ProblemDetailsConfig,
    ProblemDetailsException,
    ProblemDetailsPlugin,
)

from service.domain.errors import (
    BatchInvalid,
    BatchRolledBack,
    DatabaseUnavailable,
    DomainError,
    FieldError,
    Forbidden,
    IdempotencyKeyInFlight,
    IdempotencyKeyReused,
    InvalidTransition,
    NameConflict,
    NotAcceptable,
    NotApplied,
    NotDeleted,
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
    ProjectNotEmpty,
    QuotaExceeded,
    RuleViolation,
    TooManyStreams,
    UnsupportedMediaType,
    ValidationFailed,
    WatchTokenExpired,
    WriteContention,
)
from service.http.tracing import current_trace_id

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://vm-inventory.dev/problems/"

log = logging.getLogger("service.errors")


class Problem(msgspec.Struct, omit_defaults=True):
    """An RFC 9457 problem document; optional members appear only for errors that set them."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[FieldError] | None = None
    current_status: str | None = None
    allowed_transitions: list[str] | None = None
    current_revision: int | None = None
    holder_id: str | None = None
    project: str | None = None
    resource: str | None = None
    limit: int | None = None
    used: int | None = None
    requested: int | None = None
    trace_id: str | None = None


STATUS: dict[type[DomainError], int] = {
    ValidationFailed: 400,
    NotFound: 404,
    NameConflict: 409,
    NotDeleted: 409,
    InvalidTransition: 409,
    RuleViolation: 409,
    WriteContention: 409,
    BatchRolledBack: 409,
    BatchInvalid: 400,
    NotAcceptable: 406,
    NotApplied: 424,
    IdempotencyKeyInFlight: 409,
    PreconditionFailed: 412,
    WatchTokenExpired: 410,
    UnsupportedMediaType: 415,
    IdempotencyKeyReused: 422,
    PreconditionRequired: 428,
    DatabaseUnavailable: 503,
    TooManyStreams: 429,
    Forbidden: 403,
    QuotaExceeded: 409,
    ProjectNotEmpty: 409,
}

# Statuses Litestar itself may answer with, and what they mean.
_HTTP_TITLES = {
    400: "Invalid request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    412: "Precondition failed",
    413: "Request body too large",
    414: "Query string too long",
    429: "Too many requests",
    431: "Request headers too large",
    500: "Internal server error",
}


# One problem type per status where Litestar and our domain errors share it.
_HTTP_SLUGS = {400: ValidationFailed.slug}


def status_of(exc_type: type[DomainError]) -> int:
    """The HTTP status of a domain error class (the nearest mapped base wins)."""
    for klass in exc_type.__mro__:
        if klass in STATUS:
            return STATUS[klass]
    return 500


def with_trace_id(status: int, extra: dict[str, Any] | None) -> dict[str, Any] | None:
    """`extra` with the request's trace id for a 5xx when tracing is on: the trace that says
    what failed."""
    if status < 500 or (trace_id := current_trace_id()) is None:
        return extra
    return {**(extra or {}), "trace_id": trace_id}


def domain_problem(exc: DomainError) -> ProblemDetailsException:
    """A domain error as a problem (status from STATUS, extra members kept)."""
    status = status_of(type(exc))
    return ProblemDetailsException(
        detail=exc.detail,
        status_code=status,
        headers=exc.headers,
        extra=with_trace_id(status, exc.extra),
        type_=PROBLEM_TYPE_BASE + exc.slug,
        title=exc.title,
    )


def _field_of(error: dict[str, Any]) -> str:
    key = str(error.get("key") or error.get("source") or "body")
    if error.get("source") == "header":  # the parameter's Python name: idempotency_key
        return "-".join(part.capitalize() for part in key.split("_"))
    return key.removeprefix("data.")


def http_problem(exc: HTTPException) -> ProblemDetailsException:
    """Litestar's own HTTP errors (routing, parameters, body size, rate limit) as problems."""
    status = exc.status_code
    title = _HTTP_TITLES.get(status, "HTTP error")
    detail = exc.detail if exc.detail and exc.detail != title else title
    extra: dict[str, Any] = {}
    if isinstance(exc, ValidationException) and isinstance(exc.extra, list):
        errors = [
            {"field": _field_of(e), "message": str(e.get("message", ""))}
            for e in exc.extra
            if isinstance(e, dict)
        ]
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors) or detail
        extra["errors"] = errors
    return ProblemDetailsException(
        detail=detail,
        status_code=status,
        headers=dict(exc.headers or {}),
        extra=with_trace_id(status, extra),
        type_=PROBLEM_TYPE_BASE + _HTTP_SLUGS.get(status, title.lower().replace(" ", "-")),
        title=title,
    )


def internal_problem(exc: Exception) -> ProblemDetailsException:
    """Log an unexpected error and answer 500 without leaking any detail."""
    log.error("unhandled error", exc_info=exc)
    return ProblemDetailsException(
        detail="an unexpected error occurred",
        status_code=500,
        extra=with_trace_id(500, None),
        type_=PROBLEM_TYPE_BASE + "internal",
        title="Internal server error",
    )


def problem_details_plugin() -> ProblemDetailsPlugin:
    """Litestar's ProblemDetailsPlugin, rendering every error of ours as problem+json."""
    return ProblemDetailsPlugin(
        ProblemDetailsConfig(
            exception_to_problem_detail_map={
                DomainError: domain_problem,
                HTTPException: http_problem,
                Exception: internal_problem,
            }
        )
    )


AUTH_STATUSES = frozenset({401, 403, 414, 429, 431})


LIMIT_STATUSES = frozenset({414, 431})


def responses(*errors: type[DomainError], public: bool = False) -> dict[int, ResponseSpec]:
    """OpenAPI responses for the errors a route can raise, plus the ones every route can.

    Routes under /api (not `public`) may also answer 401, 403, 429 and, for an oversized query
    string or header block, 414 and 431.
    """
    codes = {status_of(e) for e in (*errors, ValidationFailed, DatabaseUnavailable)} | {500}
    codes |= LIMIT_STATUSES  # the request-limits middleware answers these on any route
    if UnsupportedMediaType in errors:  # a route that takes a body: it can be too large
        codes.add(413)
    if not public:
        codes |= AUTH_STATUSES
    return {
        code: ResponseSpec(
            data_container=Problem,
            description=_HTTP_TITLES.get(code) or _title_for(code),
            media_type=PROBLEM_MEDIA_TYPE,
            generate_examples=False,
        )
        for code in sorted(codes)
    }


def _title_for(code: int) -> str:
    return next((k.title for k, v in STATUS.items() if v == code), "Error")


@dataclass
class NoContentOperation(Operation):
    """An operation whose 204 answer documents no body (Litestar gives `Response[None]` a JSON
    null body, which clients then try to parse)."""

    def __post_init__(self) -> None:
        """Drop the content of the 204 response."""
        answer = (self.responses or {}).get("204")
        if isinstance(answer, OpenAPIResponse):
            answer.content = None
