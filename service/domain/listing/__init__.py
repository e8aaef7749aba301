"""ListVMs: the query model (ListParams, SortOrder, ListQuery), its validation and its filter."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import msgspec

from service.domain.errors import invalid
from service.domain.listing.filters import (
    ip_condition,
    label_condition,
    next_code_point,
    prefix_range,
    prefix_successor,
)
from service.domain.listing.keys import ip_key, search_keys, sort_value
from service.domain.listing.tokens import Cursor, PageTokens
from service.domain.schemas import (
    NAME_MAX_LENGTH,
    OS_MAX_LENGTH,
    VMStatus,
)

__all__ = [
    "DEFAULT_PAGE_SIZE", "LIVE", "MAX_PAGE_SIZE", "MAX_RANGE", "QUERY_PARAMS", "Cursor",
    "ListParams", "ListQuery", "PageTokens", "SortOrder", "build_filter", "check_param_names",
    "compile_query", "ip_key", "next_code_point", "prefix_successor", "search_keys", "sort_value",
]  # fmt: skip

MAX_PAGE_SIZE = 500
DEFAULT_PAGE_SIZE = 50
MAX_RANGE = 2**53  # range bounds (the controller's too): exact in JSON clients, inside BSON int64
MAX_VALUES = 20  # per repeatable parameter: bounds the index scans one query may fan out to
LIVE: dict[str, Any] = {"deleted_at": None}
"""The condition of a live VM: a live VM has no `deleted_at` (MongoDB's null matches missing)."""


class SortOrder(StrEnum):
    """Orders ListVMs offers; a leading `-` means descending. Ties are broken by id."""

    CREATED_AT = "created_at"
    CREATED_AT_DESC = "-created_at"
    NAME = "name"
    NAME_DESC = "-name"
    CPU_CORES = "cpu_cores"
    CPU_CORES_DESC = "-cpu_cores"
    MEMORY_MIB = "memory_mib"
    MEMORY_MIB_DESC = "-memory_mib"
    STORAGE_GIB = "storage_gib"
    STORAGE_GIB_DESC = "-storage_gib"


# API sort name -> stored field (names sort ignoring case, through the lowercased `name_key`).
SORT_FIELDS = {
    "created_at": "created_at",
    "name": "name_key",
    "cpu_cores": "cpu_cores",
    "memory_mib": "memory_mib",
    "storage_gib": "storage_gib",
}
_RANGES = ("cpu_cores", "memory_mib", "storage_gib")


class ListParams(msgspec.Struct, kw_only=True):
    """Every ListVMs query parameter, as the controller received it (already type-checked)."""

    status: list[VMStatus] | None = None
    os: list[str] | None = None
    name_prefix: str | None = None
    label: list[str] | None = None
    cpu_cores_min: int | None = None
    cpu_cores_max: int | None = None
    memory_mib_min: int | None = None
    memory_mib_max: int | None = None
    storage_gib_min: int | None = None
    storage_gib_max: int | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    ip_address: str | None = None
    ip_in: str | None = None
    sort: SortOrder = SortOrder.CREATED_AT_DESC
    page_size: int = DEFAULT_PAGE_SIZE
    page_token: str | None = None
    include_total: bool = False
    show_deleted: bool = False


QUERY_PARAMS = frozenset(ListParams.__struct_fields__)
REPEATABLE = frozenset({"status", "os", "label"})


@dataclass(frozen=True)
class ListQuery:
    """A validated ListVMs query: the MongoDB filter, the order, and where the page starts."""

    filter: dict[str, Any]
    sort_field: str
    descending: bool
    limit: int
    after: Cursor | None
    binding: str


_RFC3339_RE = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})"
)


def check_times(raw: dict[str, str]) -> None:
    """Times are RFC 3339 text (the parser alone would also take `0.5` as a Unix timestamp)."""
    for name, value in raw.items():
        if not _RFC3339_RE.fullmatch(value):
            raise invalid(name, f"{value!r} is not an RFC 3339 time such as 2025-01-31T12:00:00Z")


def check_param_names(
    names: list[str], counts: dict[str, int], allowed: frozenset[str] = QUERY_PARAMS
) -> None:
    """Reject parameters not `allowed` (ListVMs' by default), and non-repeatable ones given
    more than once."""
    for name in names:
        if name not in allowed:
            known = ", ".join(sorted(allowed))
            raise invalid(name, f"unknown query parameter (known: {known})")
        if counts.get(name, 1) > 1 and name not in REPEATABLE:
            raise invalid(name, "may be given only once")


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


def _checked(params: ListParams) -> None:
    """Range contradictions, naive times, value counts, lengths and text."""
    _check_text(params)
    for name in ("status", "os", "label"):
        values = getattr(params, name) or []
        if len(values) > MAX_VALUES:
            raise invalid(name, f"at most {MAX_VALUES} values")
    for value in params.os or []:
        if not 1 <= len(value) <= OS_MAX_LENGTH:
            raise invalid("os", f"an OS name has 1 to {OS_MAX_LENGTH} characters")
    if params.name_prefix is not None and not 1 <= len(params.name_prefix) <= NAME_MAX_LENGTH:
        raise invalid("name_prefix", f"a name prefix has 1 to {NAME_MAX_LENGTH} characters")
    for field in _RANGES:
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
            moment is not None and time_bound(moment)
        except OverflowError:
            raise invalid(name, "out of range once converted to UTC") from None
    after, before = params.created_after, params.created_before
    if after is not None and before is not None and after >= before:
        raise invalid("created_after", "created_after must be earlier than created_before")
    if not 1 <= params.page_size <= MAX_PAGE_SIZE:
        raise invalid("page_size", f"between 1 and {MAX_PAGE_SIZE}")


def time_bound(moment: datetime) -> datetime:
    """A created_after/created_before bound as both ListVMs (MongoDB) and WatchVMs (in process)
    compare it: in UTC, up to the next whole millisecond. Stored times are whole milliseconds
    (MongoDB keeps no more), so `t >= bound` and `t < bound` hold exactly as they would for the
    bound given; truncating it, as BSON would, made `created_after` take earlier VMs."""
    moment = moment.astimezone(UTC)
    try:
        return moment + timedelta(microseconds=-moment.microsecond % 1000)
    except OverflowError:  # in the last millisecond of year 9999: no VM is created then
        return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def build_filter(params: ListParams) -> dict[str, Any]:
    """The MongoDB filter: whitelisted fields, typed values, operators chosen here only."""
    _checked(params)
    query: dict[str, Any] = {}
    if params.status:
        query["status"] = {"$in": sorted({s.value for s in params.status})}
    if params.os:
        query["os"] = {"$in": sorted(set(params.os))}
    if params.name_prefix is not None:
        query["name_key"] = prefix_range(params.name_prefix)
    if params.label and (labels := label_condition(params.label)):
        query["label_terms"] = labels
    for field in _RANGES:
        bound = {}
        if (low := getattr(params, f"{field}_min")) is not None:
            bound["$gte"] = low
        if (high := getattr(params, f"{field}_max")) is not None:
            bound["$lte"] = high
        if bound:
            query[field] = bound
    created: dict[str, Any] = {}
    if params.created_after is not None:
        created["$gte"] = time_bound(params.created_after)
    if params.created_before is not None:
        created["$lt"] = time_bound(params.created_before)
    if created:
        query["created_at"] = created
    query.update(ip_condition(params.ip_address, params.ip_in))
    if not params.show_deleted:
        query.update(LIVE)
    return query


def compile_query(params: ListParams, tokens: PageTokens) -> ListQuery:
    """Validate `params` and turn them into a ListQuery (filter, order, start, binding)."""
    query = build_filter(params)
    sort = params.sort.value
    field = SORT_FIELDS[sort.removeprefix("-")]
    digest = hashlib.sha256(msgspec.json.encode([sort, query], order="deterministic"))
    binding = digest.hexdigest()[:32]
    after = tokens.decode(params.page_token, binding, field) if params.page_token else None
    return ListQuery(query, field, sort.startswith("-"), params.page_size, after, binding)
