"""Typed exceptions for the API's RFC 9457 problem answers."""

from __future__ import annotations

import email.utils
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any, TypeVar

from ..models.field_error import FieldError
from ..models.problem import Problem
from ..types import Unset

T = TypeVar("T")


class VMInventoryError(Exception):
    """Base of every error the facade raises."""


class ConnectionFailed(VMInventoryError):
    """The server could not be reached (after the allowed retries)."""


class APIError(VMInventoryError):
    """An error answer of the API; `problem` is the parsed problem+json body."""

    def __init__(self, status: int, problem: Problem, headers: Mapping[str, str]) -> None:
        """Keep the status, the problem document and the answer's headers."""
        super().__init__(f"{status} {problem.title}: {problem.detail}")
        self.status = status
        self.problem = problem
        self.title = problem.title
        self.detail = problem.detail
        self.type = problem.type_
        self.headers = dict(headers)
        self.retry_after = retry_after(headers)

    @property
    def results(self) -> list[dict[str, Any]]:
        """An atomic batch that was not applied: each operation's result (index, status,
        problem); the failed one has its own status, the others 424 (not applied)."""
        value = self.problem.additional_properties.get("results")
        return list(value) if isinstance(value, list) else []


class ValidationFailed(APIError):
    """400: the request broke the schema or a rule; `errors` names each field at fault."""

    @property
    def errors(self) -> list[FieldError]:
        """The invalid fields and why."""
        errors = self.problem.errors
        return [] if errors is None or isinstance(errors, Unset) else list(errors)


class Unauthorized(APIError):
    """401: no or an unknown API key."""


class Forbidden(APIError):
    """403: the API key's scope or projects do not allow this."""


class NotFound(APIError):
    """404: the VM or project (or route) does not exist, or the key may not see it."""


class Conflict(APIError):
    """409: the change conflicts with the VM's current state (see the subclasses)."""

    @property
    def current_status(self) -> str | None:
        """The VM's status when the change was refused, when the server names it."""
        value = self.problem.current_status
        return None if isinstance(value, Unset) else value

    @property
    def allowed_transitions(self) -> list[str]:
        """The statuses the VM may move to from `current_status`."""
        value = self.problem.allowed_transitions
        return [] if value is None or isinstance(value, Unset) else list(value)


class NameConflict(Conflict):
    """409: another VM already has this name (any case); `holder_id` names it."""

    @property
    def holder_id(self) -> str | None:
        """The live VM holding the name, when the server names it."""
        value = self.problem.holder_id
        return None if isinstance(value, Unset) or value is None else value


class QuotaExceeded(Conflict):
    """409: the write would take a project past its quota of one resource: `project`,
    `resource` (vms, cpu_cores, memory_mib or storage_gib), its `limit`, what was `used` before
    the write and what it `requested` on top."""

    @property
    def project(self) -> str | None:
        """The project whose quota it is."""
        return _given(self.problem.project)

    @property
    def resource(self) -> str | None:
        """The resource past its limit."""
        return _given(self.problem.resource)

    @property
    def limit(self) -> int | None:
        """The project's quota of that resource."""
        return _given(self.problem.limit)

    @property
    def used(self) -> int | None:
        """What the project used of it before the write."""
        return _given(self.problem.used)

    @property
    def requested(self) -> int | None:
        """What the write asked for on top."""
        return _given(self.problem.requested)


def _given(value: T | Unset | None) -> T | None:
    return None if isinstance(value, Unset) else value


class ProjectNotEmpty(Conflict):
    """409: the project still holds VMs (live or restorable), or is `default`."""


class NotDeleted(Conflict):
    """409: only a deleted VM can be restored; this one is live."""


class InvalidTransition(Conflict):
    """409: the status change is not allowed from the current status."""


class RuleViolation(Conflict):
    """409: the change breaks a business rule in the VM's current state."""


class WriteContention(Conflict):
    """409: too many concurrent writers; retry later."""


class IdempotencyKeyInFlight(Conflict):
    """409: a request with the same Idempotency-Key is still running; retried by the facade."""


class IdempotencyKeyReused(APIError):
    """422: the Idempotency-Key was already used for a different request."""


class WatchExpired(APIError):
    """410: the watch's resume token is older than the server's change history: list again."""


class PreconditionFailed(APIError):
    """412: the VM's revision is not the `if_match` one; `current_revision` is the newest."""

    @property
    def current_revision(self) -> int | None:
        """The VM's revision now, when the server names it."""
        value = self.problem.current_revision
        return None if isinstance(value, Unset) else value


class PayloadTooLarge(APIError):
    """413: the request body is too large."""


class UnsupportedMediaType(APIError):
    """415: the request's Content-Type is not accepted."""


class PreconditionRequired(APIError):
    """428: the server requires an `if_match` revision for this write."""


class RateLimited(APIError):
    """429: too many requests; `retry_after` says how long to wait."""


class ServerError(APIError):
    """500: the server failed unexpectedly."""


class Unavailable(APIError):
    """503: the server or its database is unavailable; `retry_after` says how long to wait."""


BY_STATUS: dict[int, type[APIError]] = {
    400: ValidationFailed,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    410: WatchExpired,
    412: PreconditionFailed,
    413: PayloadTooLarge,
    415: UnsupportedMediaType,
    422: IdempotencyKeyReused,
    428: PreconditionRequired,
    429: RateLimited,
    500: ServerError,
    503: Unavailable,
}
# The last segment of a problem's `type` picks a more precise class than its status.
BY_TYPE: dict[str, type[APIError]] = {
    "name-conflict": NameConflict,
    "not-deleted": NotDeleted,
    "quota-exceeded": QuotaExceeded,
    "project-not-empty": ProjectNotEmpty,
    "invalid-transition": InvalidTransition,
    "rule-violation": RuleViolation,
    "contention": WriteContention,
    "idempotency-key-in-flight": IdempotencyKeyInFlight,
    "idempotency-key-reused": IdempotencyKeyReused,
}


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds from a `Retry-After` header (delta-seconds or an HTTP date), None when absent."""
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def error_from(status: int, content: bytes, headers: Mapping[str, str], parsed: Any) -> APIError:
    """The typed exception for an error answer (problem+json, or any other body)."""
    problem = parsed if isinstance(parsed, Problem) else _problem_of(status, content)
    kind = BY_STATUS.get(status, ServerError if status >= 500 else APIError)
    precise = BY_TYPE.get(problem.type_.rsplit("/", 1)[-1])
    if precise is not None and issubclass(precise, kind):
        kind = precise
    return kind(status, problem, headers)


def _problem_of(status: int, content: bytes) -> Problem:
    """Parse a problem body the generated code did not (an undocumented status)."""
    try:
        body = json.loads(content)
        if isinstance(body, dict) and {"type", "title", "status", "detail"} <= body.keys():
            return Problem.from_dict(body)
    except (ValueError, TypeError, KeyError):
        pass
    phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    detail = content.decode(errors="replace")[:500] or phrase
    return Problem(type_="about:blank", title=phrase, status=status, detail=detail)
