"""ListVMEvents page tokens: signed and bound to the VM, so a forged, altered or foreign token is
a 400 naming page_token (never a 500), and an id that never existed is a 404 whatever the token."""

from __future__ import annotations

import base64
import json

import pytest

from service.domain.events import event_binding
from service.domain.listing import PageTokens
from tests.api.helpers import BASE, Client, assert_problem, vm_body

pytestmark = pytest.mark.usefixtures("clean")
NEVER = "665f1c2e8b3e4a0012345678"


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


# What unsigned tokens used to be (base64 of `[revision]`), and JSON values a client could forge.
FORGED = [
    b64(json.dumps(value).encode())
    for value in [
        [2**63], [2**64], [-(2**63) - 1], [10**400], [0], [-1], [1], [3], [1.5], ["2"], [None],
        [], {}, [[1]], "x", [1, "665f1c2e8b3e4a0012345678", False],
    ]
] + ["WzkyMjMzNzIwMzY4NTQ3NzU4MDhd", "%%%", "\U0010ffff", "A" * 4000, " ", "=="]  # fmt: skip


async def vm_with_history(client: Client, name: str, writes: int = 4) -> str:
    vm_id: str = (await client.post(BASE, json=vm_body(name=name))).json()["id"]
    for i in range(writes):
        assert (await client.patch(f"{BASE}/{vm_id}", json={"description": f"v{i}"})).is_success
    return vm_id


async def first_token(client: Client, vm_id: str) -> str:
    page = (await client.get(f"{BASE}/{vm_id}/events", params={"page_size": 2})).json()
    token: str = page["next_page_token"]
    assert token
    return token


async def test_forged_and_foreign_tokens_are_a_400_naming_page_token(client: Client) -> None:
    vm_id = await vm_with_history(client, "web-01")
    other_vm = await vm_with_history(client, "web-02")
    own = await first_token(client, vm_id)
    listing = (await client.get(BASE, params={"page_size": 1})).json()["next_page_token"]
    foreign = [
        await first_token(client, other_vm),  # another VM's walk
        listing,  # a ListVMs token
        PageTokens("another secret").encode(event_binding(vm_id), 3, vm_id, ties=False),
        own[:-1],
        own + "A",
        own + "==",
        *(own[:i] + ("B" if own[i] != "B" else "C") + own[i + 1 :] for i in range(len(own))),
    ]
    for token in [*FORGED, *foreign]:
        response = await client.get(f"{BASE}/{vm_id}/events", params={"page_token": token})
        assert_problem(response, 400, field="page_token")
    page = (await client.get(f"{BASE}/{vm_id}/events", params={"page_token": own})).json()
    assert [e["revision"] for e in page["items"]] == [3, 2, 1]


async def test_an_id_that_never_existed_is_a_404_whatever_the_token(client: Client) -> None:
    other_vm = await vm_with_history(client, "web-01")
    tokens = [None, await first_token(client, other_vm), *FORGED]
    for vm_id in [NEVER, NEVER.upper(), "not-an-id", "0" * 5000, "\U0010ffff"]:
        for token in tokens:
            params = {} if token is None else {"page_token": token}
            response = await client.get(f"{BASE}/{vm_id}/events", params=params)
            assert_problem(response, 404)


async def test_tokens_walk_the_whole_history_also_once_the_vm_is_deleted(client: Client) -> None:
    vm_id = await vm_with_history(client, "web-01", writes=6)
    seen: list[int] = []
    page = (await client.get(f"{BASE}/{vm_id}/events", params={"page_size": 3})).json()
    seen += [e["revision"] for e in page["items"]]
    deleted = await client.delete(f"{BASE}/{vm_id}", params={"force": "true"})
    assert deleted.status_code == 204
    path = f"{BASE}/{vm_id.upper()}/events"  # the same VM, however its id's hex is written
    while token := page["next_page_token"]:
        response = await client.get(path, params={"page_size": 3, "page_token": token})
        assert response.status_code == 200, response.text
        page = response.json()
        seen += [e["revision"] for e in page["items"]]
    assert seen == [7, 6, 5, 4, 3, 2, 1]


@pytest.mark.parametrize(
    "page_size",
    ["0", "-1", "501", "9223372036854775808", "1" + "0" * 400, "1e3", "NaN", "x", "\U0010ffff"],
)
async def test_a_page_size_out_of_range_is_a_400_naming_it(client: Client, page_size: str) -> None:
    vm_id = await vm_with_history(client, "web-01", writes=0)
    response = await client.get(f"{BASE}/{vm_id}/events", params={"page_size": page_size})
    assert_problem(response, 400, field="page_size")
