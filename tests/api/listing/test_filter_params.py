"""ListVMs, WatchVMs and ExportVMs take the same filters: one contract, one set of checks."""

from __future__ import annotations

from typing import Any

import pytest

from service.domain.listing import ListParams
from tests.api.helpers import BASE, Client, assert_problem

ROUTES = [BASE, f"{BASE}/watch", f"{BASE}/export"]
FILTER_FIELDS = ListParams.__struct_fields__[: ListParams.__struct_fields__.index("sort")]
INTEGERS = [name for name in FILTER_FIELDS if name.endswith(("_min", "_max"))]


def _query_params(spec: dict[str, Any], path: str) -> dict[str, dict[str, Any]]:
    parameters = spec["paths"][path]["get"]["parameters"]
    return {p["name"]: p for p in parameters if p["in"] == "query"}


@pytest.mark.parametrize("route", ROUTES[1:])
async def test_every_operation_documents_the_filters_as_listvms(client: Client, route: str) -> None:
    """Each filter has the same name, type, bounds, description and required-ness as ListVMs'."""
    spec = (await client.get("/schema/openapi.json")).json()
    listing, other = _query_params(spec, BASE), _query_params(spec, route)
    assert list(listing)[: len(FILTER_FIELDS)] == list(FILTER_FIELDS)
    assert [name for name in other if name in FILTER_FIELDS] == list(FILTER_FIELDS)
    for name in FILTER_FIELDS:
        # The schemas too: the length and format rules service/http/openapi.py adds included.
        assert listing[name] == other[name], name
        assert listing[name]["required"] is False, name


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("name", INTEGERS)
@pytest.mark.parametrize("value", ["1.5", "1e3", "+2", "02", " 2", "0x10", ""])
async def test_an_integer_filter_given_as_anything_but_digits_is_400(
    client: Client, route: str, name: str, value: str
) -> None:
    assert_problem(await client.get(route, params={name: value}), 400, name)


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("name_prefix", ["a", "b"]),  # a single-valued filter given twice
        ("ip_in", ["10.0.0.0/8", "10.0.0.0/8"]),
        ("created_after", "0.5"),  # a number the time parser alone would take
        ("created_before", "1700000000"),
        ("created_after", "2026-01-01"),  # a date, not a time
        ("colour", "red"),  # no such filter
    ],
)
async def test_a_bad_filter_is_400_naming_it_on_every_route(
    client: Client, route: str, name: str, value: str | list[str]
) -> None:
    assert_problem(await client.get(route, params={name: value}), 400, name)


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize(
    ("name", "value"),
    [("ip_in", "fe80::1%eth0"), ("ip_in", "fe80::%eth0/64"), ("ip_address", "fe80::1%eth0")],
)
async def test_an_ip_filter_with_a_zone_identifier_is_400_as_a_vms_address(
    client: Client, route: str, name: str, value: str
) -> None:
    """One IP rule: a VM's ip_address refuses zone ids, so does every filter (HEAD answers the
    status GET would, without a stream that would not end were the filter taken)."""
    head = await client.head(route, params={name: value})
    assert head.status_code == 400
    assert head.headers["content-type"].startswith("application/problem+json")
    body = {"name": "z", "os": "x", "cpu_cores": 1, "memory_mib": 128, "storage_gib": 1}
    assert_problem(await client.post(BASE, json={**body, "ip_address": value}), 400, "ip_address")


PAGING = ("page_size", "page_token", "include_total", "show_deleted")  # ListVMs' only


@pytest.mark.parametrize(
    ("route", "name"),
    [*((f"{BASE}/watch", n) for n in ("sort", *PAGING)), *((f"{BASE}/export", n) for n in PAGING)],
)
async def test_what_only_listvms_takes_is_400_naming_it_on_watch_and_export(
    client: Client, route: str, name: str
) -> None:
    """The filters are shared, not the rest: paging (and, on WatchVMs, sort) is ListVMs' only."""
    # A bad resume_token after it: were `name` taken, WatchVMs would answer 400 for the token
    # rather than open a stream (ExportVMs names the first unknown parameter).
    query = {name: "1", "resume_token": "not-a-token"}
    assert_problem(await client.get(route, params=query), 400, name)
