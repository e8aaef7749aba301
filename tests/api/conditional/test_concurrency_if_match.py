"""Optimistic concurrency under load: compare-and-set on the revision, through the API."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from tests.api.helpers import BASE, Client, assert_problem, stored_events, vm_body

pytestmark = pytest.mark.usefixtures("clean")


async def test_twenty_patches_with_the_same_if_match_one_wins(
    client: Client, db: AsyncDatabase[dict[str, Any]]
) -> None:
    vm = (await client.post(BASE, json=vm_body())).json()
    responses = await asyncio.gather(
        *(
            client.patch(
                f"{BASE}/{vm['id']}",
                json={"description": f"writer {i}"},
                headers={"If-Match": '"1"'},
            )
            for i in range(20)
        )
    )
    assert Counter(r.status_code for r in responses) == {200: 1, 412: 19}
    winner = next(r for r in responses if r.status_code == 200).json()
    for loser in (r for r in responses if r.status_code == 412):
        assert assert_problem(loser, 412)["current_revision"] == 2
    current = (await client.get(f"{BASE}/{vm['id']}")).json()
    assert current["revision"] == 2
    assert current["description"] == winner["description"]
    assert len(await stored_events(db)) == 2  # created + the one update


async def test_twenty_patches_of_different_labels_without_if_match_all_survive(
    client: Client, db: AsyncDatabase[dict[str, Any]]
) -> None:
    vm = (await client.post(BASE, json=vm_body(labels={"base": "x"}))).json()
    responses = await asyncio.gather(
        *(
            client.patch(f"{BASE}/{vm['id']}", json={"labels": {f"k{i}": f"v{i}"}})
            for i in range(20)
        )
    )
    assert [r.status_code for r in responses] == [200] * 20, [r.text for r in responses]
    current = (await client.get(f"{BASE}/{vm['id']}")).json()
    assert current["labels"] == {"base": "x", **{f"k{i}": f"v{i}" for i in range(20)}}
    assert current["revision"] == 21
    # 21 writes: past the VM's array of recent events, so in both places, each once.
    revisions = [e["revision"] for e in await stored_events(db)]
    assert revisions == list(range(1, 22))
    events = (await client.get(f"{BASE}/{vm['id']}/events", params={"page_size": 50})).json()
    assert [e["revision"] for e in events["items"]] == list(range(21, 0, -1))


async def test_rules_are_checked_against_the_state_actually_replaced(client: Client) -> None:
    """A resize racing a start: whichever lands second sees the other's result."""
    vm = (await client.post(BASE, json=vm_body(status="stopped"))).json()
    path = f"{BASE}/{vm['id']}"
    start, resize = await asyncio.gather(
        client.patch(path, json={"status": "running"}), client.patch(path, json={"cpu_cores": 8})
    )
    assert start.status_code == 200
    final = (await client.get(path)).json()
    if resize.status_code == 200:  # the resize landed first, while still stopped
        assert final == {**final, "cpu_cores": 8, "status": "running", "revision": 3}
    else:  # the start landed first: a running VM cannot be resized
        assert_problem(resize, 409)
        assert final["cpu_cores"] == 2
        assert final["revision"] == 2
