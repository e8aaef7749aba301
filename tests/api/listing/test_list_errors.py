"""ListVMs: unknown parameters, bad values, contradictions and bad tokens are 400s naming them."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from pydantic import SecretStr
from pymongo.asynchronous.database import AsyncDatabase

from service.config import Settings
from service.http.app import create_app
from tests.api.helpers import BASE, Client, assert_problem
from tests.api.listing_data import seed

pytestmark = pytest.mark.usefixtures("clean")

BAD: list[tuple[str, dict[str, Any]]] = [
    ("colour", {"colour": "red"}),
    ("Status", {"Status": "running"}),  # names are case-sensitive
    ("page_token", {"page_token": ["a", "b"]}),  # a scalar given twice
    ("name_prefix", {"name_prefix": ["a", "b"]}),
    ("status", {"status": "on"}),
    ("status", {"status": ""}),
    ("os", {"os": "x" * 65}),
    ("os", {"os": [f"os{i}" for i in range(21)]}),
    ("name_prefix", {"name_prefix": ""}),
    ("name_prefix", {"name_prefix": "x" * 64}),
    ("label", {"label": "Env=prod"}),  # keys are lowercase
    ("label", {"label": "=prod"}),
    ("label", {"label": "!env=prod"}),
    ("label", {"label": "env=" + "v" * 64}),
    ("label", {"label": ["env=prod", "env=dev"]}),  # a label has one value
    ("label", {"label": ["env", "!env"]}),
    ("label", {"label": ["env=prod", "!env"]}),
    ("cpu_cores_min", {"cpu_cores_min": "two"}),
    ("cpu_cores_min", {"cpu_cores_min": 4, "cpu_cores_max": 2}),
    ("memory_mib_min", {"memory_mib_min": 4096, "memory_mib_max": 1024}),
    ("storage_gib_min", {"storage_gib_min": 2, "storage_gib_max": 1}),
    ("storage_gib_max", {"storage_gib_max": "1.5"}),
    ("cpu_cores_min", {"cpu_cores_min": "99999999999999999999999"}),  # beyond any BSON int
    ("memory_mib_max", {"memory_mib_max": -1}),
    ("created_after", {"created_after": "0001-01-01T00:00:00+14:00"}),  # before year 1 in UTC
    ("created_before", {"created_before": "9999-12-31T23:59:59-14:00"}),
    ("created_after", {"created_after": "yesterday"}),
    ("created_after", {"created_after": "2026-01-01T00:00:00"}),  # no offset
    ("created_before", {"created_before": "2026-01-01T00:00:00"}),
    (
        "created_after",
        {"created_after": "2026-02-01T00:00:00Z", "created_before": "2026-01-01T00:00:00Z"},
    ),
    (
        "created_after",
        {"created_after": "2026-01-01T00:00:00Z", "created_before": "2026-01-01T00:00:00Z"},
    ),
    ("ip_address", {"ip_address": "10.0.0.256"}),
    ("ip_address", {"ip_address": "fe80::1%eth0"}),
    ("ip_address", {"ip_address": "10.0.0.1", "ip_in": "10.1.0.0/16"}),
    ("ip_in", {"ip_in": "10.0.0.0/33"}),
    ("ip_in", {"ip_in": "10.0.0.5/24"}),  # host bits set
    ("ip_in", {"ip_in": "banana"}),
    ("sort", {"sort": "ip_address"}),
    ("sort", {"sort": "+name"}),
    ("page_size", {"page_size": 0}),
    ("page_size", {"page_size": 501}),
    ("page_size", {"page_size": "ten"}),
    ("include_total", {"include_total": "maybe"}),
    ("page_token", {"page_token": "not-a-token"}),
    ("page_token", {"page_token": "AAAA"}),
]


@pytest.mark.parametrize(("field", "params"), BAD, ids=[f"{f}-{p}"[:50] for f, p in BAD])
async def test_bad_query_is_400_naming_the_parameter(
    client: Client, field: str, params: dict[str, Any]
) -> None:
    assert_problem(await client.get(BASE, params=params), 400, field)


async def test_host_bits_answer_suggests_the_network(client: Client) -> None:
    problem = assert_problem(await client.get(BASE, params={"ip_in": "10.0.0.5/24"}), 400)
    assert "10.0.0.0/24" in problem["detail"]


async def test_unknown_parameter_is_not_silently_ignored(client: Client) -> None:
    problem = assert_problem(await client.get(BASE, params={"stauts": "running"}), 400, "stauts")
    assert "status" in problem["detail"]  # the answer lists the known names


async def first_token(client: Client, params: dict[str, Any]) -> str:
    page = (await client.get(BASE, params={**params, "page_size": 2})).json()
    token: str = page["next_page_token"]
    assert token
    return token


OTHER_QUERIES = [
    {"status": "running"},
    {"status": ["running", "error"]},
    {"sort": "-created_at", "os": "rhel-9"},
    {"sort": "created_at"},
    {"sort": "name"},
    {"label": "env=prod"},
    {"cpu_cores_min": 1},
    {"created_before": "2030-01-01T00:00:00Z"},
    {"ip_in": "10.0.0.0/8"},
]


@pytest.mark.parametrize("other", OTHER_QUERIES, ids=str)
async def test_token_is_bound_to_its_filters_and_sort(
    client: Client, db: AsyncDatabase[dict[str, Any]], other: dict[str, Any]
) -> None:
    await seed(db, 30)
    base = {"status": ["error", "running"]}
    token = await first_token(client, base)
    # the same query with repeated values in another order is the same query
    same = {"status": ["running", "error"], "page_token": token, "page_size": 2}
    assert (await client.get(BASE, params=same)).status_code == 200
    if other != {"status": ["running", "error"]}:
        response = await client.get(BASE, params={**other, "page_token": token})
        problem = assert_problem(response, 400, "page_token")
        assert "other filters" in problem["detail"]


async def test_page_size_and_include_total_may_change_between_pages(
    client: Client, db: AsyncDatabase[dict[str, Any]]
) -> None:
    await seed(db, 30)
    token = await first_token(client, {})
    params = {"page_token": token, "page_size": 5, "include_total": "true"}
    page = (await client.get(BASE, params=params)).json()
    assert (len(page["items"]), page["total_size"]) == (5, 30)


async def test_tampered_token_is_rejected(
    client: Client, db: AsyncDatabase[dict[str, Any]]
) -> None:
    await seed(db, 30)
    token = await first_token(client, {"sort": "cpu_cores"})
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    forged = raw.replace(b'"cpu_cores"', b'"cpu_cores"').replace(b",1,", b",8,", 1)
    candidates = [
        token[:-1] + ("A" if token[-1] != "A" else "B"),  # the signature
        token[:5] + ("A" if token[5] != "A" else "B") + token[6:],  # the payload
        base64.urlsafe_b64encode(forged).decode().rstrip("="),
        token[:-3],
        token + "AAAA",
    ]
    for bad in candidates:
        if bad == token:
            continue
        response = await client.get(BASE, params={"sort": "cpu_cores", "page_token": bad})
        assert_problem(response, 400, "page_token")


async def test_token_from_another_secret_is_rejected(
    settings: Settings, db: AsyncDatabase[dict[str, Any]], admin_token: str
) -> None:
    await seed(db, 10)
    apps = [
        create_app(settings.model_copy(update={"page_token_secret": SecretStr(secret)}))
        for secret in ("one-secret", "another-secret", "one-secret")
    ]
    async with (
        AsyncTestClient(app=apps[0]) as first,
        AsyncTestClient(app=apps[1]) as second,
        AsyncTestClient(app=apps[2]) as third,
    ):
        for each in (first, second, third):
            each.headers["Authorization"] = f"Bearer {admin_token}"
        token = await first_token(first, {})
        assert_problem(await second.get(BASE, params={"page_token": token}), 400, "page_token")
        # every process sharing the secret accepts the tokens of the others
        assert (await third.get(BASE, params={"page_token": token})).status_code == 200


async def test_list_parameters_in_openapi_match_what_is_accepted(client: Client) -> None:
    spec = (await client.get("/schema/openapi.json")).json()
    names = {p["name"] for p in spec["paths"]["/api/v1/vms"]["get"]["parameters"]}
    from service.domain.listing import QUERY_PARAMS

    assert names == QUERY_PARAMS
