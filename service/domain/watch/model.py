"""The watch's domain: filters as an in-process predicate, events, and how a change is classified.

The predicate evaluates the very filter ListVMs sends to MongoDB (domain.listing.build_filter),
so each filter has one definition. It understands exactly the operators build_filter writes.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import msgspec

from service.domain.errors import invalid
from service.domain.listing import ListParams, build_filter
from service.domain.schemas import VM

Doc = dict[str, Any]
# An event's resume token (hex of MongoDB's `_data`: 0x82, the cluster time's seconds and
# increment, then the event's key), or a cluster time `t<seconds>.<increment>`.
_TOKEN_RE = re.compile(r"82[0-9A-F]{16}(?:[0-9A-F]{2}){0,503}|t[0-9]{1,10}\.[0-9]{1,10}")
TIME_PART_MAX = 2**32 - 1  # a cluster time's seconds and increment are unsigned 32-bit


class EventType(StrEnum):
    """What a change means to one watcher."""

    ADDED = "ADDED"
    MODIFIED = "MODIFIED"
    DELETED = "DELETED"
    BOOKMARK = "BOOKMARK"
    ERROR = "ERROR"


class WatchEvent(msgspec.Struct, kw_only=True):
    """The `data:` of an ADDED, MODIFIED or DELETED event (DELETED carries the last state)."""

    type: EventType
    vm: VM
    revision: int


class WatchBookmark(msgspec.Struct, kw_only=True):
    """The `data:` of a BOOKMARK: nothing matching changed up to `resume_token`."""

    type: EventType
    resume_token: str


class WatchError(msgspec.Struct, kw_only=True):
    """The `data:` of the final ERROR event: why the stream ends and where to resume."""

    type: EventType
    status: int
    reason: str
    detail: str
    resume_token: str | None


@dataclass(frozen=True)
class Change:
    """One committed change of a VM: its resume token, its state before and after (stored form)."""

    token: str
    cluster_time: tuple[int, int]
    inserted: bool
    before: Doc | None
    after: Doc | None


def check_token(token: str, field: str) -> str:
    """A resume token as the service hands them out, else 400 naming `field`."""
    if not _TOKEN_RE.fullmatch(token):
        raise invalid(field, "not a resume token this service issued (an event id or watch_token)")
    if max(token_time(token)) > TIME_PART_MAX:
        raise invalid(field, f"a cluster time's seconds and increment are 0 to {TIME_PART_MAX}")
    return token


def check_not_after(token: str, now: str, field: str) -> None:
    """400 naming `field` when `token` lies after `now` (the cluster's latest time): no change
    is there yet, so a watch from it would skip every change until then."""
    if is_later(token, now):
        raise invalid(field, "lies after the cluster's current time: no such resume point yet")


def watch_filter(params: ListParams) -> Doc:
    """The ListVMs filter of `params` (validated exactly as ListVMs validates it), live VMs only:
    a soft delete is DELETED to its watchers, a restore ADDED, a purge of a deleted VM nothing."""
    return build_filter(msgspec.structs.replace(params, show_deleted=False))


def _comparable(a: Any, b: Any) -> bool:
    """MongoDB compares values of one type bracket only (a null ip_key matches no range)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return False
    if isinstance(a, int) and isinstance(b, int):
        return True
    if isinstance(a, datetime) and isinstance(b, datetime):
        return True
    return isinstance(a, str) and isinstance(b, str)


_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "$gte": lambda v, b: _comparable(v, b) and v >= b,
    "$gt": lambda v, b: _comparable(v, b) and v > b,
    "$lte": lambda v, b: _comparable(v, b) and v <= b,
    "$lt": lambda v, b: _comparable(v, b) and v < b,
    "$in": lambda v, b: _member(v, b),
    "$all": lambda v, b: isinstance(v, list) and all(x in v for x in b),
    "$nin": lambda v, b: not _member(v, b),
}


def _member(value: Any, choices: list[Any]) -> bool:
    if isinstance(value, list):
        return any(v in choices for v in value)
    return value in choices


def _holds(value: Any, condition: Any) -> bool:
    if isinstance(condition, dict):
        return all(_OPERATORS[op](value, bound) for op, bound in condition.items())
    if isinstance(value, list):
        return condition in value
    return bool(value == condition)


def matches(query: Doc, doc: Doc | None) -> bool:
    """Whether a stored VM document satisfies a build_filter query, as MongoDB would decide.

    Strings compare by code point, which is MongoDB's order of their UTF-8 bytes.
    """
    if doc is None:
        return False
    for field, condition in query.items():
        if field == "$and":
            if not all(matches(part, doc) for part in condition):
                return False
        elif not _holds(doc.get(field), condition):
            return False
    return True


def classify(query: Doc, change: Change) -> tuple[EventType, Doc] | None:
    """What `change` is to a watcher of `query`, and the state to send; None when nothing.

    A VM that starts matching is ADDED, one that stops matching DELETED (with its last matching
    state), one that matches before and after MODIFIED.
    """
    was, now = matches(query, change.before), matches(query, change.after)
    if now:
        assert change.after is not None
        # No pre-image (written before migration 0008 enabled them): an update stays MODIFIED.
        unknown_before = change.before is None and not change.inserted
        modified = was or unknown_before
        return (EventType.MODIFIED if modified else EventType.ADDED), change.after
    if was:
        assert change.before is not None
        return EventType.DELETED, change.before
    return None


def token_time(token: str) -> tuple[int, int]:
    """The cluster time a token stands for (a resume token's `_data` starts with it)."""
    if token.startswith("t"):
        seconds, _, increment = token[1:].partition(".")
        return int(seconds), int(increment)
    return int(token[2:10], 16), int(token[10:18], 16)


def is_later(a: str, b: str) -> bool:
    """Whether resume point `a` lies strictly after `b` in MongoDB's history.

    Resume tokens compare as their bytes (MongoDB orders them so); a cluster-time token `t` means
    "before every event at t", so an event token at the same time is later.
    """
    if not a.startswith("t") and not b.startswith("t"):
        return a > b
    ta, tb = token_time(a), token_time(b)
    if ta != tb:
        return ta > tb
    return b.startswith("t") and not a.startswith("t")


def seen_by(change: Change, floor: str | None) -> bool:
    """Whether a client holding resume point `floor` already has `change`."""
    if floor is None:
        return False
    if floor.startswith("t"):
        return change.cluster_time < token_time(floor)
    return change.token <= floor
