"""ip_in of every prefix-length class (a stored network level, a few of them, between levels,
below the finest, the whole family) selects exactly the VMs inside it, across pages in every
order, and WatchVMs' predicate selects the same stored documents."""

from __future__ import annotations

import ipaddress
from typing import Any

import msgspec
import pytest
from pymongo.asynchronous.database import AsyncDatabase

from service.domain.listing import ListParams
from service.domain.watch.model import matches, watch_filter
from tests.api.helpers import Client
from tests.api.listing.test_list_filters import order
from tests.api.listing_data import vm_doc, walk

pytestmark = pytest.mark.usefixtures("clean")
Doc = dict[str, Any]

# Each network's first and last address and its neighbours just outside, at every level.
ADDRESSES = [
    "10.7.1.5", "10.7.1.0", "10.7.1.255", "10.7.1.127", "10.7.1.128", "10.7.0.255", "10.7.2.0",
    "10.7.0.0", "10.7.255.255", "10.7.15.255", "10.7.16.0", "10.7.63.255", "10.7.64.0",
    "10.6.255.255", "10.8.0.0", "10.15.255.255", "10.16.0.0", "10.63.255.255", "10.64.0.0",
    "10.0.0.0", "10.255.255.255", "9.255.255.255", "11.0.0.0", "8.0.0.0", "15.255.255.255",
    "0.0.0.0", "255.255.255.255", "192.168.1.1",
    "2001:db8::", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", "2001:db9::", "2001:db7:ffff::1",
    "2001:db8:1::1", "2001:db8:1:ff::1", "2001:db8:1:100::1", "2001:db8:1:1ff:ffff::",
    "2001:db8:1:200::", "2001:db8:1:1::1", "2001:db8:1:1::2", "2001:db8:1:1:1::", "2001:db8:1:2::",
    "2001:db8:0:ffff::", "2001:db8:f:ffff::1", "2001:db8:10::", "2001:df8::", "2001:dc0::",
    "::", "::1", "ffff::1", "1::",
]  # fmt: skip
NETWORKS = [
    "10.0.0.0/8", "8.0.0.0/6", "10.0.0.0/10", "10.0.0.0/12", "10.7.0.0/16", "10.7.0.0/18",
    "10.7.0.0/20", "10.7.16.0/20", "10.7.1.0/24", "10.7.1.0/25", "10.7.1.128/25", "10.7.1.5/32",
    "10.7.1.4/31", "0.0.0.0/0", "0.0.0.0/1", "128.0.0.0/1",
    "2001:db8::/32", "2001:db8::/29", "2001:db8::/36", "2001:db8::/44", "2001:db8:1::/48",
    "2001:db8:1:100::/56", "2001:db8:1::/52", "2001:db8:1:1::/64", "2001:db8:1::/60",
    "2001:db8:1:1::/96", "2001:db8:1:1::1/128", "2001::/16", "::/0", "::/1",
]  # fmt: skip
SORTS = ["-created_at", "created_at", "name", "-cpu_cores", "storage_gib"]


async def seed_addresses(db: AsyncDatabase[Doc]) -> list[Doc]:
    """Two VMs per address (creation times shared in threes) and a few without one."""
    docs = [
        vm_doc(i, ip_address=str(ipaddress.ip_address(ADDRESSES[i % len(ADDRESSES)])))
        for i in range(2 * len(ADDRESSES))
    ] + [vm_doc(1000 + i, ip_address=None) for i in range(5)]
    await db.vms.insert_many(docs)
    return [doc async for doc in db.vms.find({})]  # as MongoDB keeps them


@pytest.mark.parametrize("network", NETWORKS)
async def test_ip_in_selects_exactly_the_vms_inside_in_every_order_and_for_watchers(
    client: Client, clean: AsyncDatabase[Doc], network: str
) -> None:
    stored = await seed_addresses(clean)
    net = ipaddress.ip_network(network)
    inside = [
        d for d in stored
        if d["ip_address"] is not None and ipaddress.ip_address(d["ip_address"]) in net
    ]  # fmt: skip
    assert 0 < len(inside) < len(stored) - 5 or network in ("::/0", "0.0.0.0/0")
    for sort in SORTS:
        items = await walk(client, {"ip_in": network, "sort": sort}, page_size=3)
        assert [vm["id"] for vm in items] == order(inside, sort), sort
    params = msgspec.convert({"ip_in": network}, ListParams, strict=False)
    watched = [d["_id"] for d in stored if matches(watch_filter(params), d)]
    assert sorted(watched) == sorted(d["_id"] for d in inside)
