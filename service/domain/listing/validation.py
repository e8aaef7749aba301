"""ListVMs' parameter checks the type parsing cannot make: RFC 3339 text, ranges that
contradict, value counts, lengths and text the database can store."""

from __future__ import annotations

import re
from datetime import UTC

from service.domain.errors import invalid
from service.domain.listing.params import (
    MAX_PAGE_SIZE,
    MAX_RANGE,
    MAX_VALUES,
    RANGES,
    ListParams,
)
from service.domain.schemas import NAME_MAX_LENGTH, OS_MAX_LENGTH, PROJECT_NAME_PATTERN

_RFC3339_RE = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})"
)


_PROJECT_NAME = re.compile(PROJECT_NAME_PATTERN)


def check_times(raw: dict[str, str]) -> None:
    """Times are RFC 3339 text (the parser alone would also take `0.5` as a Unix timestamp)."""
    for name, value in raw.items():
        if not _RFC3339_RE.fullmatch(value):
            raise invalid(name, f"{value!r} is not an RFC 3339 time such as 2025-01-31T12:00:00Z")


def _check_text(params: ListParams) -> None:
    """Every text parameter is Unicode the database can store: no lone surrogates."""
    for name in ("os", "name_prefix", "label", "ip_address", "ip_in", "page_token"):
        value = getattr(params, name)
        for text in value if isinstance(value, list) else [value]:
            if text is not None and not _is_scalar_text(text):
                raise invalid(name, "contains a lone surrogate, which is not valid Unicode text")


def _is_scalar_text(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def check_projects(projects: list[str] | None) -> None:
    """`project` values: at most MAX_VALUES project names (400 naming `project`)."""
    if projects and len(projects) > MAX_VALUES:
        raise invalid("project", f"at most {MAX_VALUES} values")
    for value in projects or []:
        if not _PROJECT_NAME.fullmatch(value):
            raise invalid("project", f"{value!r} is not a project name ({PROJECT_NAME_PATTERN})")


def check_params(params: ListParams) -> None:
    """Range contradictions, naive times, value counts, lengths and text."""
    _check_text(params)
    check_projects(params.project)
    for name in ("status", "os", "label"):
        values = getattr(params, name) or []
        if len(values) > MAX_VALUES:
            raise invalid(name, f"at most {MAX_VALUES} values")
    for value in params.os or []:
        if not 1 <= len(value) <= OS_MAX_LENGTH:
            raise invalid("os", f"an OS name has 1 to {OS_MAX_LENGTH} characters")
    if params.name_prefix is not None and not 1 <= len(params.name_prefix) <= NAME_MAX_LENGTH:
        raise invalid("name_prefix", f"a name prefix has 1 to {NAME_MAX_LENGTH} characters")
    for field in RANGES:
        low, high = getattr(params, f"{field}_min"), getattr(params, f"{field}_max")
        for name, bound in ((f"{field}_min", low), (f"{field}_max", high)):
            if bound is not None and not 0 <= bound <= MAX_RANGE:
                raise invalid(name, f"between 0 and {MAX_RANGE}")
        if low is not None and high is not None and low > high:
            raise invalid(f"{field}_min", f"{field}_min ({low}) is above {field}_max ({high})")
    for name in ("created_after", "created_before"):
        moment = getattr(params, name)
        if moment is not None and moment.utcoffset() is None:
            raise invalid(name, "an RFC 3339 time needs a timezone offset, such as Z")
        try:
            moment is not None and moment.astimezone(UTC)  # as the filter's bound will be
        except OverflowError:
            raise invalid(name, "out of range once converted to UTC") from None
    after, before = params.created_after, params.created_before
    if after is not None and before is not None and after >= before:
        raise invalid("created_after", "created_after must be earlier than created_before")
    if not 1 <= params.page_size <= MAX_PAGE_SIZE:
        raise invalid("page_size", f"between 1 and {MAX_PAGE_SIZE}")
