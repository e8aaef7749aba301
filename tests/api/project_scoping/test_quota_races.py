"""Racing writers against one quota over HTTP: exactly as many succeed as the quota holds, the
others are quota-exceeded, and the usage is that of the live VMs afterwards."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import httpx
import pytest

from tests.api.helpers import BASE, BATCH, Client, vm_body
from tests.api.project_scoping.conftest import (
    PROJECTS,
    QUOTA_TYPE,
    Q,
    assert_usage_exact,
    make_project,
    usage,
)

pytestmark = pytest.mark.usefixtures("clean")


def outcomes(answers: list[httpx.Response]) -> Counter[tuple[int, str | None]]:
    """How many answers of each status (and problem type)."""
    return Counter(
        (a.status_code, a.json().get("type") if a.status_code >= 400 else None) for a in answers
    )


async def test_50_racing_creates_against_a_quota_of_10(client: Client) -> None:
    await make_project(client, Q, quota={"vms": 10})
    answers = await asyncio.gather(
        *(client.post(BASE, json=vm_body(name=f"race-{i}", project=Q)) for i in range(50))
    )
    assert outcomes(answers) == {(201, None): 10, (409, QUOTA_TYPE): 40}, [
        a.text for a in answers if a.status_code not in (201, 409)
    ]
    assert (await assert_usage_exact(client))["vms"] == 10


async def test_racing_resizes_against_a_cpu_quota(client: Client) -> None:
    await make_project(client, Q, quota={"cpu_cores": 30})
    ops = [
        {"op": "create", "vm": vm_body(name=f"r-{i}", project=Q, cpu_cores=1)} for i in range(20)
    ]
    created = (await client.post(BATCH, json={"operations": ops, "atomic": True})).json()
    ids = [r["vm"]["id"] for r in created["results"]]
    answers = await asyncio.gather(
        *(client.patch(f"{BASE}/{vm_id}", json={"cpu_cores": 2}) for vm_id in ids)
    )
    assert outcomes(answers) == {(200, None): 10, (409, QUOTA_TYPE): 10}
    assert (await assert_usage_exact(client))["cpu_cores"] == 30


async def test_racing_restores_against_a_vms_quota(client: Client) -> None:
    await make_project(client, Q)
    ops = [{"op": "create", "vm": vm_body(name=f"d-{i}", project=Q)} for i in range(30)]
    created = (await client.post(BATCH, json={"operations": ops, "atomic": True})).json()
    ids = [r["vm"]["id"] for r in created["results"]]
    deletes = [{"op": "delete", "id": vm_id} for vm_id in ids]
    done = (await client.post(BATCH, json={"operations": deletes, "atomic": True})).json()
    assert [r["status"] for r in done["results"]] == [204] * 30
    lowered = await client.patch(f"{PROJECTS}/{Q}", json={"quota": {"vms": 10}})
    assert lowered.status_code == 200, lowered.text
    answers = await asyncio.gather(*(client.post(f"{BASE}/{i}/restore") for i in ids))
    assert outcomes(answers) == {(200, None): 10, (409, QUOTA_TYPE): 20}
    assert (await assert_usage_exact(client))["vms"] == 10


async def test_racing_creates_deletes_and_resizes_keep_usage_exact(client: Client) -> None:
    await make_project(client, Q, quota={"vms": 8, "cpu_cores": 16})
    seed = [(await client.post(BASE, json=vm_body(name=f"s-{i}", project=Q, cpu_cores=1))).json()
            for i in range(4)]  # fmt: skip
    calls: list[Any] = []
    for i in range(24):
        calls.append(client.post(BASE, json=vm_body(name=f"n-{i}", project=Q, cpu_cores=1)))
    for vm in seed[:2]:
        calls.append(client.delete(f"{BASE}/{vm['id']}"))
    for vm in seed[2:]:
        calls.append(client.patch(f"{BASE}/{vm['id']}", json={"cpu_cores": 8}))
    answers = await asyncio.gather(*calls)
    assert {a.status_code for a in answers} <= {200, 201, 204, 409}, [a.text for a in answers]
    refused = [a.json() for a in answers if a.status_code == 409]
    assert all(p["type"] == QUOTA_TYPE for p in refused), refused
    shown = await assert_usage_exact(client)
    assert shown["vms"] <= 8 and shown["cpu_cores"] <= 16
    assert shown == await usage(client, Q)
