"""ListVMs and ExportVMs cover the projects the key reads: `project=` narrows them, naming a
project the key may not read is 403 naming `project`, and nothing of another project leaks."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest

from tests.api.helpers import BASE, Client, assert_problem
from tests.api.project_scoping.conftest import A, B, Keys, create_in

EXPORT = f"{BASE}/export"


@pytest.fixture
async def spread(client: Client, keys: Keys) -> dict[str, list[str]]:
    """Three VMs in A, two in B, one in default; a deleted one in A and in B: names by project."""
    for name in ("a-1", "a-2", "a-3", "shared"):
        await create_in(client, keys.write_a, name=name)
    for name in ("b-1", "shared"):
        await create_in(client, keys.write_b, name=name)
    await create_in(client, keys.write_all, name="d-1")
    for key, name in ((keys.write_a, "a-gone"), (keys.write_b, "b-gone")):
        vm = await create_in(client, key, name=name)
        assert (await client.delete(f"{BASE}/{vm['id']}", headers=key)).status_code == 204
    return {A: ["a-1", "a-2", "a-3", "shared"], B: ["b-1", "shared"], "default": ["d-1"]}


async def listed(client: Client, headers: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    """Every VM ListVMs gives, page after page (2 a page), checking total_size on each."""
    items: list[dict[str, Any]] = []
    token = None
    totals = set()
    while True:
        page_params = {**params, "page_size": 2, "include_total": "true", "sort": "name"}
        if token:
            page_params["page_token"] = token
        r = await client.get(BASE, params=page_params, headers=headers)
        assert r.status_code == 200, r.text
        page = r.json()
        items += page["items"]
        totals.add(page["total_size"])
        token = page["next_page_token"]
        if token is None:
            assert totals == {len(items)}
            return items


def names_by_project(vms: list[dict[str, Any]]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for vm in vms:
        found.setdefault(vm["project"], []).append(vm["name"])
    return {p: sorted(n) for p, n in found.items()}


async def test_list_covers_only_the_projects_the_key_reads(
    client: Client, keys: Keys, spread: dict[str, list[str]]
) -> None:
    assert names_by_project(await listed(client, keys.read_b)) == {B: spread[B]}
    assert names_by_project(await listed(client, keys.write_a)) == {A: spread[A]}
    assert names_by_project(await listed(client, keys.write_ab)) == {A: spread[A], B: spread[B]}
    assert names_by_project(await listed(client, keys.write_all)) == spread
    own = await listed(client, keys.read_b, project=B)
    assert names_by_project(own) == {B: spread[B]}
    narrowed = await listed(client, keys.write_all, project=[A, "default"])
    assert names_by_project(narrowed) == {A: spread[A], "default": spread["default"]}
    one = await listed(client, keys.write_ab, project=A)
    assert names_by_project(one) == {A: spread[A]}


async def test_deleted_vms_of_other_projects_stay_hidden(
    client: Client, keys: Keys, spread: dict[str, list[str]]
) -> None:
    shown = await listed(client, keys.read_b, show_deleted="true")
    assert names_by_project(shown) == {B: sorted([*spread[B], "b-gone"])}


async def test_filters_never_reach_another_project(
    client: Client, keys: Keys, spread: dict[str, list[str]]
) -> None:
    for params in ({"name_prefix": "a-"}, {"name_prefix": "shared"}, {"os": "ubuntu-24.04"}):
        found = names_by_project(await listed(client, keys.read_b, **params))
        assert set(found) <= {B}, (params, found)
    assert await listed(client, keys.read_b, name_prefix="a-") == []


@pytest.mark.parametrize(
    "project", [[A], [B, A], ["default"], ["nowhere"]], ids=["a", "b-and-a", "default", "nowhere"]
)
@pytest.mark.parametrize("route", [BASE, EXPORT])
async def test_naming_a_project_the_key_may_not_read_is_403(
    client: Client, keys: Keys, spread: dict[str, list[str]], project: list[str], route: str
) -> None:
    r = await client.get(route, params={"project": project}, headers=keys.read_b)
    problem = assert_problem(r, 403, "project")
    assert project[-1] in problem["detail"]


async def test_head_of_list_follows_get(client: Client, keys: Keys, spread: Any) -> None:
    assert (await client.head(BASE, params={"project": B}, headers=keys.read_b)).status_code == 200
    denied = await client.head(BASE, params={"project": A}, headers=keys.read_b)
    assert denied.status_code == 403


async def test_export_ndjson_holds_only_the_keys_projects(
    client: Client, keys: Keys, spread: dict[str, list[str]]
) -> None:
    for headers, params, expected in (
        (keys.read_b, {}, {B: spread[B]}),
        (keys.read_b, {"project": B}, {B: spread[B]}),
        (keys.write_a, {}, {A: spread[A]}),
        (keys.write_all, {"project": [B, "default"]}, {B: spread[B], "default": ["d-1"]}),
    ):
        r = await client.get(EXPORT, params=params, headers=headers)
        assert r.status_code == 200, r.text
        vms = [json.loads(line) for line in r.text.splitlines()]
        assert names_by_project(vms) == expected


async def test_export_csv_has_a_project_column_and_only_the_keys_projects(
    client: Client, keys: Keys, spread: dict[str, list[str]]
) -> None:
    r = await client.get(EXPORT, headers={**keys.read_b, "Accept": "text/csv"})
    assert r.status_code == 200, r.text
    rows = list(csv.DictReader(io.StringIO(r.text, newline="")))
    assert "project" in next(csv.reader(io.StringIO(r.text, newline="")))
    assert sorted((row["project"], row["name"]) for row in rows) == [(B, n) for n in spread[B]]
    assert A not in r.text and "a-1" not in r.text


async def test_a_page_token_of_another_project_lists_nothing_of_it(
    client: Client, keys: Keys, spread: dict[str, list[str]]
) -> None:
    first = await client.get(BASE, params={"project": A, "page_size": 1}, headers=keys.write_all)
    token = first.json()["next_page_token"]
    for params in ({}, {"project": B}):
        r = await client.get(BASE, params={**params, "page_size": 1, "page_token": token},
                             headers=keys.read_b)  # fmt: skip
        assert_problem(r, 400, "page_token")
