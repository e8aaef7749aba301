"""ListVMs: every filter alone and combined, every sort across pages with ties, include_total."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from service.domain.listing import SortOrder
from tests.api.helpers import BASE, Client
from tests.api.listing_data import seed, walk

pytestmark = pytest.mark.usefixtures("clean")
Doc = dict[str, Any]
COUNT = 90


def in_net(net: str) -> Callable[[Doc], bool]:
    network = ipaddress.ip_network(net)
    return lambda d: (
        d["ip_address"] is not None and ipaddress.ip_address(d["ip_address"]) in network
    )


# (query parameters, which seeded VMs they select)
CASES: list[tuple[dict[str, Any], Callable[[Doc], bool]]] = [
    ({}, lambda d: True),
    ({"status": "running"}, lambda d: d["status"] == "running"),
    ({"status": ["running", "error"]}, lambda d: d["status"] in ("running", "error")),
    ({"os": "debian-12"}, lambda d: d["os"] == "debian-12"),
    ({"os": ["debian-12", "rhel-9"]}, lambda d: d["os"] != "ubuntu-24.04"),
    ({"os": "Debian-12"}, lambda d: False),  # exact, case included
    ({"name_prefix": "WEB-00"}, lambda d: d["name"].lower().startswith("web-00")),
    ({"name_prefix": "a.b"}, lambda d: d["name"].startswith("a.b")),  # `.` is not a wildcard
    ({"name_prefix": ".*"}, lambda d: False),
    ({"name_prefix": "db-0002"}, lambda d: d["name"] == "db-0002"),
    ({"label": "env=prod"}, lambda d: d["labels"]["env"] == "prod"),
    ({"label": "team"}, lambda d: "team" in d["labels"]),
    ({"label": "!team"}, lambda d: "team" not in d["labels"]),
    ({"label": ["env=dev", "team=t3"]}, lambda d: d["labels"] == {"env": "dev", "team": "t3"}),
    ({"label": ["env=prod", "!team"]}, lambda d: d["labels"] == {"env": "prod"}),
    ({"label": "team=t9"}, lambda d: False),
    ({"cpu_cores_min": 4}, lambda d: d["cpu_cores"] >= 4),
    ({"cpu_cores_max": 2}, lambda d: d["cpu_cores"] <= 2),
    ({"cpu_cores_min": 2, "cpu_cores_max": 4}, lambda d: 2 <= d["cpu_cores"] <= 4),
    ({"memory_mib_min": 3072}, lambda d: d["memory_mib"] >= 3072),
    ({"memory_mib_max": 2048}, lambda d: d["memory_mib"] <= 2048),
    ({"storage_gib_min": 40, "storage_gib_max": 50}, lambda d: 40 <= d["storage_gib"] <= 50),
    ({"storage_gib_max": 10}, lambda d: d["storage_gib"] <= 10),
    ({"created_after": "2026-01-01T00:10:00Z"}, lambda d: d["created_at"].minute >= 10),
    ({"created_before": "2026-01-01T00:10:00Z"}, lambda d: d["created_at"].minute < 10),
    (
        {"created_after": "2026-01-01T02:05:00+02:00", "created_before": "2026-01-01T00:07:00Z"},
        lambda d: 5 <= d["created_at"].minute < 7,
    ),
    ({"ip_address": "10.0.1.9"}, lambda d: d["ip_address"] == "10.0.1.9"),
    ({"ip_address": "2001:DB8:1::7"}, lambda d: d["ip_address"] == "2001:db8:1::7"),
    ({"ip_in": "10.0.1.0/24"}, in_net("10.0.1.0/24")),
    ({"ip_in": "10.0.0.0/16"}, in_net("10.0.0.0/16")),
    ({"ip_in": "10.0.2.16/28"}, in_net("10.0.2.16/28")),
    ({"ip_in": "2001:db8:1::/48"}, in_net("2001:db8:1::/48")),
    ({"ip_in": "0.0.0.0/0"}, in_net("0.0.0.0/0")),
    ({"ip_in": "::/0"}, in_net("::/0")),
    (
        {"status": ["running", "stopped"], "label": "env=prod", "cpu_cores_min": 2},
        lambda d: (
            d["status"] in ("running", "stopped")
            and d["labels"]["env"] == "prod"
            and d["cpu_cores"] >= 2
        ),
    ),
    (
        {"os": "rhel-9", "name_prefix": "w", "memory_mib_max": 4096, "label": "!team"},
        lambda d: (
            d["os"] == "rhel-9"
            and d["name"].lower().startswith("w")
            and d["memory_mib"] <= 4096
            and "team" not in d["labels"]
        ),
    ),
    (
        {"ip_in": "10.0.0.0/8", "created_before": "2026-01-01T00:20:00Z", "status": "error"},
        lambda d: (
            in_net("10.0.0.0/8")(d) and d["created_at"].minute < 20 and d["status"] == "error"
        ),
    ),
]


def order(docs: list[Doc], sort: str) -> list[str]:
    """The ids of `docs` in the API's order for `sort` (ties broken by id)."""
    field = sort.removeprefix("-")

    def key(d: Doc) -> tuple[Any, str]:
        value = d["name"].lower() if field == "name" else d[field]
        return value, str(d["_id"])

    return [str(d["_id"]) for d in sorted(docs, key=key, reverse=sort.startswith("-"))]


@pytest.mark.parametrize(
    ("params", "selects"), CASES, ids=[str(params)[:60] for params, _ in CASES]
)
async def test_filter_returns_exactly_the_matching_vms_across_pages(
    client: Client,
    db: AsyncDatabase[dict[str, Any]],
    params: dict[str, Any],
    selects: Callable[[Doc], bool],
) -> None:
    docs = await seed(db, COUNT)
    expected = order([d for d in docs if selects(d)], "-created_at")
    items = await walk(client, params)
    assert [vm["id"] for vm in items] == expected
    total = await client.get(BASE, params={**params, "include_total": "true", "page_size": 1})
    assert total.json()["total_size"] == len(expected)


@pytest.mark.parametrize("sort", [s.value for s in SortOrder])
async def test_every_sort_across_page_boundaries_with_ties(
    client: Client, db: AsyncDatabase[dict[str, Any]], sort: str
) -> None:
    docs = await seed(db, COUNT)  # cpu_cores takes 4 values, created_at 30: long runs of ties
    for page_size in (1, 4, 7, 500):
        items = await walk(client, {"sort": sort}, page_size=page_size)
        assert [vm["id"] for vm in items] == order(docs, sort), page_size
    selected = [d for d in docs if d["status"] in ("running", "stopped")]
    items = await walk(client, {"sort": sort, "status": ["running", "stopped"]}, page_size=3)
    assert [vm["id"] for vm in items] == order(selected, sort)


async def test_default_order_is_newest_first_and_page_size_defaults_to_50(
    client: Client, db: AsyncDatabase[dict[str, Any]]
) -> None:
    docs = await seed(db, 60)
    page = (await client.get(BASE)).json()
    assert [vm["id"] for vm in page["items"]] == order(docs, "-created_at")[:50]
    assert "total_size" not in page
    assert page["next_page_token"]


async def test_total_counts_all_matches_not_the_page(
    client: Client, db: AsyncDatabase[dict[str, Any]]
) -> None:
    await seed(db, COUNT)
    page = (await client.get(BASE, params={"include_total": "true", "page_size": 5})).json()
    assert (len(page["items"]), page["total_size"]) == (5, COUNT)
    page = (await client.get(BASE, params={"include_total": "true", "status": "error"})).json()
    assert page["total_size"] == COUNT // 5


async def test_writes_keep_the_search_keys_current(
    client: Client, db: AsyncDatabase[dict[str, Any]]
) -> None:
    body = {"name": "Mixed-Case", "os": "x", "cpu_cores": 1, "memory_mib": 256, "storage_gib": 1}
    vm = await client.post(BASE, json={**body, "labels": {"a": "1"}, "ip_address": "10.9.8.7"})
    vm_id = vm.json()["id"]
    assert [v["id"] for v in await walk(client, {"name_prefix": "mixed-"})] == [vm_id]
    assert [v["id"] for v in await walk(client, {"label": "a=1", "ip_in": "10.9.0.0/16"})] == [
        vm_id
    ]
    patch = {"name": "other", "labels": {"a": None, "b": "2"}, "ip_address": "2001:db8::5"}
    assert (await client.patch(f"{BASE}/{vm_id}", json=patch)).status_code == 200
    assert await walk(client, {"name_prefix": "mixed"}) == []
    assert await walk(client, {"label": "a"}) == []
    assert [v["id"] for v in await walk(client, {"label": "b=2", "name_prefix": "OTH"})] == [vm_id]
    assert [v["id"] for v in await walk(client, {"ip_address": "2001:db8::5"})] == [vm_id]
    assert (await client.put(f"{BASE}/{vm_id}", json={**body, "name": "third"})).status_code == 200
    assert await walk(client, {"label": "b"}) == []
    assert await walk(client, {"ip_in": "::/0"}) == []
    assert [v["id"] for v in await walk(client, {"label": "!b", "name_prefix": "t"})] == [vm_id]
    stored = await db.vms.find_one({})
    assert stored is not None
    assert (stored["name_key"], stored["label_terms"], stored["ip_key"]) == ("third", [], None)
