"""Domain errors: the exceptions use cases raise (HTTP statuses: service.http.problems)."""

from __future__ import annotations

from typing import Any, ClassVar

import msgspec


class FieldError(msgspec.Struct):
    """One invalid input field and why it is invalid."""

    field: str
    message: str


class DomainError(Exception):
    """Base of every error the domain raises; its HTTP status lives in http.problems.STATUS."""

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


class NotDeleted(DomainError):
    """Only a deleted VM can be restored; this one is live."""

    title = "VM is not deleted"
    slug = "not-deleted"


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


class PreconditionRequired(DomainError):
    """The server requires If-Match on this write (REQUIRE_IF_MATCH) and the request has none."""

    title = "Precondition required"
    slug = "precondition-required"


class IdempotencyKeyReused(DomainError):
    """The Idempotency-Key was already used for a different request."""

    title = "Idempotency key reused"
    slug = "idempotency-key-reused"


class IdempotencyKeyInFlight(DomainError):
    """A request with the same Idempotency-Key is still being processed; retry shortly."""

    title = "Request in progress"
    slug = "idempotency-key-in-flight"

    def __init__(self, detail: str) -> None:
        """Ask the client to retry after a short pause."""
        super().__init__(detail)
        self.headers["Retry-After"] = "1"


class UnsupportedMediaType(DomainError):
    """The request body's Content-Type is not accepted here."""

    title = "Unsupported media type"
    slug = "unsupported-media-type"


class NotAcceptable(DomainError):
    """None of the media types the request's Accept header names can be produced."""

    title = "Not acceptable"
    slug = "not-acceptable"


class BatchRolledBack(DomainError):
    """An atomic batch had a failing operation, so none was applied; `results` says which."""

    title = "Batch not applied"
    slug = "batch-rolled-back"


class BatchInvalid(DomainError):
    """An atomic batch had an invalid operation, so none was applied; `results` says which."""

    title = "Invalid request"
    slug = "validation"


class NotApplied(DomainError):
    """One operation of an atomic batch that was not applied because another one failed."""

    title = "Not applied"
    slug = "not-applied"


class DatabaseUnavailable(DomainError):
    """MongoDB did not answer in time."""

    title = "Service unavailable"
    slug = "unavailable"

    def __init__(self, detail: str = "the database is unavailable; retry shortly") -> None:
        """Ask the client to retry after a short pause."""
        super().__init__(detail)
        self.headers["Retry-After"] = "2"


def invalid(field: str, message: str) -> ValidationFailed:
    """A 400 naming one field (a query parameter, header or body member)."""
    return invalid_fields([FieldError(field, message)])


def invalid_fields(errors: list[FieldError]) -> ValidationFailed:
    """A 400 naming every field at fault (its detail lists them all)."""
    return ValidationFailed("; ".join(f"{e.field}: {e.message}" for e in errors), errors)


def field_errors_of(error: ValidationFailed) -> list[FieldError]:
    """The fields a ValidationFailed names."""
    return [FieldError(**e) for e in error.extra.get("errors", [])]


class Forbidden(DomainError):
    """The API key may not do this (a project it may not read or write); `errors` names the
    field at fault."""

    title = "Forbidden"
    slug = "forbidden"

    def __init__(self, field: str, message: str) -> None:
        """Name the field (e.g. `project`) and why."""
        super().__init__(f"{field}: {message}", errors=[{"field": field, "message": message}])


class QuotaExceeded(DomainError):
    """The write would take a project past its quota of one resource."""

    title = "Quota exceeded"
    slug = "quota-exceeded"

    def __init__(self, project: str, resource: str, limit: int, used: int, requested: int) -> None:
        """Name the project, the resource, its limit, what is used and what was asked for."""
        super().__init__(
            f"quota exceeded for {resource} in project {project!r}: requested {requested}, "
            f"but already used {used} of {limit}",
            project=project,
            resource=resource,
            limit=limit,
            used=used,
            requested=requested,
        )


class ProjectNotEmpty(DomainError):
    """The project still holds VMs (live or restorable), or is `default`: it cannot go."""

    title = "Project cannot be deleted"
    slug = "project-not-empty"


class WatchTokenExpired(DomainError):
    """The resume token is older than MongoDB's change history: list again, then watch."""

    title = "Resume token expired"
    slug = "watch-token-expired"


class TooManyStreams(DomainError):
    """A key (or the process) already holds as many watches or exports as it may: retry later."""

    title = "Too many streams"
    slug = "too-many-streams"

    def __init__(self, detail: str, retry_after_s: int) -> None:
        """Ask the client to retry after `retry_after_s` seconds."""
        super().__init__(detail)
        self.headers["Retry-After"] = str(retry_after_s)
