"""The watch predicate and soft delete: a deleted VM matches no watch filter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from service.domain.listing import ListParams
from service.domain.schemas import VMStatus
from service.domain.watch.model import Change, EventType, classify, watch_filter

NOW = datetime(2026, 1, 1, tzinfo=UTC)
GONE = {"deleted_at": NOW, "purge_at": NOW + timedelta(days=30)}


def doc(revision: int, **extra: Any) -> dict[str, Any]:
    return {"_id": "x", "status": "running", "revision": revision, **extra}


def change(before: Any, after: Any) -> Change:
    return Change("00", (1, 1), False, before, after)


@pytest.mark.parametrize(
    "params", [ListParams(), ListParams(status=[VMStatus.RUNNING]), ListParams(show_deleted=True)]
)
def test_delete_is_deleted_restore_added_and_a_deleted_vms_purge_nothing(
    params: ListParams,
) -> None:
    query = watch_filter(params)  # show_deleted never reaches a watch filter
    assert classify(query, change(doc(1), doc(2, **GONE))) == (EventType.DELETED, doc(1))
    assert classify(query, change(doc(2, **GONE), doc(3))) == (EventType.ADDED, doc(3))
    assert classify(query, change(doc(3), None)) == (EventType.DELETED, doc(3))  # live purge
    assert classify(query, change(doc(2, **GONE), None)) is None  # purge of a deleted VM
    assert classify(query, change(None, None)) is None  # a TTL purge without a pre-image
