"""A non-atomic batch keeps README's promise: items touching the same VM id or the same name
(ignoring case) run in input order, also when a delete or rename frees the name a later item
claims (or an earlier one claims the name a later delete frees), and when an upsert by name and
an item by id write the same VM. Each batch is run many times:
concurrency must never change its answer, which must be that of the atomic (serial) batch."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.api.helpers import BASE, BATCH, Client, vm_body

pytestmark = pytest.mark.usefixtures("clean")
RUNS = 15
Ops = Callable[[str, str], list[dict[str, Any]]]  # (X's id, X's name) -> the batch


def _delete(vm_id: str) -> dict[str, Any]:
    return {"op": "delete", "id": vm_id, "force": True}


CASES: dict[str, tuple[Ops, list[int]]] = {
    "delete-then-create": (
        lambda x, n: [_delete(x), {"op": "create", "vm": vm_body(name=n)}],
        [204, 201],
    ),
    "rename-then-create": (
        lambda x, n: [
            {"op": "update", "id": x, "patch": {"name": f"{n}-renamed"}},
            {"op": "create", "vm": vm_body(name=n.upper())},
        ],
        [200, 201],
    ),
    "replace-renaming-then-upsert": (
        lambda x, n: [
            {"op": "replace", "id": x, "vm": vm_body(name=f"{n}-r", status="running")},
            {"op": "upsert", "name": n, "vm": vm_body(name=n, cpu_cores=8)},
        ],
        [200, 201],
    ),
    "rename-delete-then-create-the-new-name": (
        lambda x, n: [
            {"op": "update", "id": x, "patch": {"name": f"{n}-m"}},
            _delete(x),
            {"op": "create", "vm": vm_body(name=f"{n}-m")},
        ],
        [200, 204, 201],
    ),
    "create-then-delete": (  # the create comes first: the name is still X's
        lambda x, n: [{"op": "create", "vm": vm_body(name=n)}, _delete(x)],
        [409, 204],
    ),
    # An upsert of X's name writes X, which a write by X's id also does: they keep their order.
    "update-by-id-then-upsert-its-name": (
        lambda x, n: [
            {"op": "update", "id": x, "if_match": 1, "patch": {"description": "patched"}},
            {"op": "upsert", "name": n, "vm": vm_body(name=n, status="running")},
        ],
        [200, 200],
    ),
    "upsert-then-update-by-id": (
        lambda x, n: [
            {"op": "upsert", "name": n.upper(),
             "vm": vm_body(name=n, status="running", description="u")},
            {"op": "update", "id": x, "if_match": 2, "patch": {"description": "patched"}},
        ],
        [200, 200],
    ),
    "upsert-then-delete-then-create": (
        lambda x, n: [
            {"op": "upsert", "name": n, "vm": vm_body(name=n, os="debian-12")},
            _delete(x),
            {"op": "create", "vm": vm_body(name=n, cpu_cores=5)},
        ],
        [200, 204, 201],
    ),
}  # fmt: skip


@pytest.mark.parametrize(("ops", "expected"), CASES.values(), ids=CASES.keys())
async def test_a_freed_name_is_claimed_in_input_order(
    client: Client, ops: Ops, expected: list[int]
) -> None:
    # The atomic batch runs its items one after another: the serial answer (when it applies).
    modes = ([True] if max(expected) < 400 else []) + [False] * RUNS
    for run, atomic in enumerate(modes):
        name = f"n{run}"
        x = await client.post(BASE, json=vm_body(name=name, status="running"))
        assert x.status_code == 201, x.text
        body = {"operations": ops(x.json()["id"], name), "atomic": atomic}
        answer = await client.post(BATCH, json=body)
        assert answer.status_code == 200, answer.text
        assert [r["status"] for r in answer.json()["results"]] == expected, (run, answer.json())
