"""The SDK's problem answers as typed exceptions: QuotaExceeded and ProjectNotEmpty by their
problem type, with the members the server names."""

from __future__ import annotations

import json

from vm_inventory_client import Conflict, ProjectNotEmpty, QuotaExceeded
from vm_inventory_client.facade.problems import error_from

BASE = "https://vm-inventory.dev/problems/"


def answer(slug: str, **members: object) -> bytes:
    return json.dumps(
        {"type": BASE + slug, "title": "t", "status": 409, "detail": "d", **members}
    ).encode()


def test_quota_exceeded_is_typed_with_its_members() -> None:
    body = answer(
        "quota-exceeded", project="team-a", resource="cpu_cores", limit=64, used=56, requested=16
    )
    error = error_from(409, body, {}, None)
    assert isinstance(error, QuotaExceeded) and isinstance(error, Conflict)
    assert (error.project, error.resource, error.limit, error.used, error.requested) == (
        "team-a", "cpu_cores", 64, 56, 16,
    )  # fmt: skip
    assert error.status == 409 and error.type == BASE + "quota-exceeded"


def test_project_not_empty_and_other_conflicts() -> None:
    assert isinstance(error_from(409, answer("project-not-empty"), {}, None), ProjectNotEmpty)
    other = error_from(409, answer("name-conflict"), {}, None)
    assert not isinstance(other, QuotaExceeded | ProjectNotEmpty)
    assert isinstance(other, Conflict)
    # A 409 without the members (an older server) still types, naming none of them.
    bare = error_from(409, answer("quota-exceeded"), {}, None)
    assert isinstance(bare, QuotaExceeded) and bare.limit is None and bare.project is None
