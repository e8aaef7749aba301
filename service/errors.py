"""Domain errors and their one mapping to HTTP: status codes and RFC 9457 problem bodies."""

from __future__ import annotations

import logging
from typing import Any, ClassVar

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi.datastructures import ResponseSpec

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://vm-inventory.dev/problems/"

log = logging.getLogger("service.errors")


class FieldError(msgspec.Struct):
    """One invalid input field and why it is invalid."""

    field: str
    message: str


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


class DomainError(Exception):
    """Base of every error the service layer raises; its HTTP status lives in STATUS below."""

    title: ClassVar[str] = "Error"
    slug: ClassVar[str] = "error"

    def __init__(self, detail: str, **extra: Any) -> None:
        """Keep a human-readable `detail` and extra problem members."""
        super().__init__(detail)
        self.detail = detail
        self.extra = extra
        self.headers: dict[str, str] = {}


class ValidationFailed(DomainError):
    """The request is malformed or breaks the schema; `errors` names each field."""

    title = "Invalid request"
    slug = "validation"

    def __init__(self, detail: str, errors: list[FieldError] | None = None) -> None:
        """Describe the failure; `errors` lists the fields at fault."""
        super().__init__(detail, errors=[msgspec.to_builtins(e) for e in errors or []])


class NotFound(DomainError):
    """The resource does not exist."""

    title = "Not found"
    slug = "not-found"


class NameConflict(DomainError):
    """Another VM already has this name (names are unique ignoring case)."""

    title = "Name already in use"
    slug = "name-conflict"


class InvalidTransition(DomainError):
    """The requested status change is not allowed from the current status."""

    title = "Invalid status transition"
    slug = "invalid-transition"

    def __init__(self, detail: str, current_status: str, allowed_transitions: list[str]) -> None:
        """Name the current status and where it may go."""
        super().__init__(
            detail, current_status=current_status, allowed_transitions=allowed_transitions
        )


class RuleViolation(DomainError):
    """The change breaks a business rule in the VM's current state."""

    title = "Business rule violated"
    slug = "rule-violation"


class WriteContention(DomainError):
    """Too many concurrent writers kept changing the VM; retry later."""

    title = "Too much contention"
    slug = "contention"


class PreconditionFailed(DomainError):
    """The VM's revision is not the one the write expected."""

    title = "Precondition failed"
    slug = "precondition-failed"

    def __init__(self, detail: str, current_revision: int) -> None:
        """Name the VM's current revision."""
        super().__init__(detail, current_revision=current_revision)
        self.current_revision = current_revision


class UnsupportedMediaType(DomainError):
    """The request body's Content-Type is not accepted here."""

    title = "Unsupported media type"
    slug = "unsupported-media-type"


class DatabaseUnavailable(DomainError):
    """MongoDB did not answer in time."""

    title = "Service unavailable"
    slug = "unavailable"

    def __init__(self, detail: str = "the database is unavailable; retry shortly") -> None:
        """Ask the client to retry after a short pause."""
        super().__init__(detail)
        self.headers["Retry-After"] = "2"


STATUS: dict[type[DomainError], int] = {
    ValidationFailed: 400,
    NotFound: 404,
    NameConflict: 409,
    InvalidTransition: 409,
    RuleViolation: 409,
    WriteContention: 409,
    PreconditionFailed: 412,
    UnsupportedMediaType: 415,
    DatabaseUnavailable: 503,
}

# Statuses Litestar itself may answer with, and what they mean.
_HTTP_TITLES = {
    400: "Invalid request",
    404: "Not found",
    405: "Method not allowed",
    412: "Precondition failed",
    413: "Request body too large",
    429: "Too many requests",
    500: "Internal server error",
}


def status_of(exc_type: type[DomainError]) -> int:
    """The HTTP status of a domain error class (the nearest mapped base wins)."""
    for klass in exc_type.__mro__:
        if klass in STATUS:
            return STATUS[klass]
    return 500


def _problem(status: int, slug: str, title: str, detail: str, **extra: Any) -> dict[str, Any]:
    body = {"type": PROBLEM_TYPE_BASE + slug, "title": title, "status": status, "detail": detail}
    body.update({k: v for k, v in extra.items() if v is not None})
    return body


def _response(body: dict[str, Any], headers: dict[str, str] | None = None) -> Response[Any]:
    return Response(
        body, status_code=body["status"], media_type=PROBLEM_MEDIA_TYPE, headers=headers or {}
    )


def domain_error_handler(request: Request[Any, Any, Any], exc: DomainError) -> Response[Any]:
    """Render a domain error as problem+json."""
    status = status_of(type(exc))
    body = _problem(status, exc.slug, exc.title, exc.detail, instance=request.url.path, **exc.extra)
    return _response(body, exc.headers)


def _field_of(error: dict[str, Any]) -> str:
    key = str(error.get("key") or error.get("source") or "body")
    return key.removeprefix("data.")


def http_error_handler(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    """Render Litestar's HTTP errors (routing, parameters, body size, rate limit) as problems."""
    status = exc.status_code
    title = _HTTP_TITLES.get(status, "HTTP error")
    errors = None
    detail = exc.detail if exc.detail and exc.detail != title else title
    if isinstance(exc, ValidationException) and isinstance(exc.extra, list):
        errors = [
            {"field": _field_of(e), "message": str(e.get("message", ""))}
            for e in exc.extra
            if isinstance(e, dict)
        ]
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors) or detail
    slug = title.lower().replace(" ", "-")
    body = _problem(status, slug, title, detail, instance=request.url.path, errors=errors)
    return _response(body, dict(exc.headers or {}))


def internal_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Log an unexpected error and answer 500 without leaking any detail."""
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    body = _problem(
        500, "internal", "Internal server error", "an unexpected error occurred",
        instance=request.url.path,
    )  # fmt: skip
    return _response(body)


def responses(*errors: type[DomainError]) -> dict[int, ResponseSpec]:
    """OpenAPI responses for the errors a route can raise, plus the ones every route can."""
    codes = {status_of(e) for e in (*errors, ValidationFailed, DatabaseUnavailable)} | {500}
    return {
        code: ResponseSpec(
            data_container=Problem,
            description=_HTTP_TITLES.get(code) or _title_for(code),
            media_type=PROBLEM_MEDIA_TYPE,
        )
        for code in sorted(codes)
    }


def _title_for(code: int) -> str:
    return next((k.title for k, v in STATUS.items() if v == code), "Error")
