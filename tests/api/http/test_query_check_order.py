"""A bad query string is checked after the API key: no key is 401 and too small a scope 403
whatever the query says; with a good key the 400 names the parameter and its access line the key."""

from __future__ import annotations

import json
import logging

import pytest

from service.domain.apikeys import Scope
from service.http.logs import JsonFormatter
from service.storage.api_keys import ApiKeyRepository
from tests.api.helpers import BASE, Client, assert_problem

VM = f"{BASE}/0123456789abcdef01234567"
# Every documented route that reads its query, each with queries its declaration refuses.
ROUTES = [
    ("GET", BASE, "page_size"), ("GET", VM, "show_deleted"),
    ("GET", f"{BASE}/watch", "cpu_cores_min"), ("GET", f"{BASE}/export", "memory_mib_max"),
    ("GET", f"{VM}/events", "page_size"), ("DELETE", VM, "force"),
]  # fmt: skip
BAD = ["colour=red", "{name}=1&{name}=2", "{name}=1.5"]
# Refused on any route, whatever it declares: not UTF-8, too many parameters.
MALFORMED = ["x=%ff", "&".join(f"p{i}=1" for i in range(65))]


def _bad(query: str, name: str) -> str:
    return query.format(name=name)


@pytest.mark.parametrize(("method", "path", "name"), ROUTES)
@pytest.mark.parametrize("query", BAD + MALFORMED)
async def test_no_key_is_401_whatever_the_query(
    client: Client, method: str, path: str, name: str, query: str
) -> None:
    r = await client.request(method, f"{path}?{_bad(query, name)}", headers={"Authorization": ""})
    assert_problem(r, 401)


@pytest.mark.parametrize("query", BAD)
async def test_too_small_a_scope_is_403_whatever_the_query(
    client: Client, api_keys: ApiKeyRepository, query: str
) -> None:
    token = await api_keys.create(f"reader-{BAD.index(query)}", Scope.READ)
    r = await client.delete(
        f"{VM}?{_bad(query, 'force')}", headers={"Authorization": f"Bearer {token}"}
    )
    assert_problem(r, 403)


@pytest.mark.parametrize(("method", "path", "name"), ROUTES)
async def test_with_a_key_the_400_names_the_parameter_and_the_line_the_key(
    client: Client, caplog: pytest.LogCaptureFixture, method: str, path: str, name: str
) -> None:
    with caplog.at_level(logging.INFO, logger="service.access"):
        for query, named in [(BAD[0], "colour"), (BAD[1], name), (BAD[2], name)]:
            if query == BAD[2] and name in ("show_deleted", "force"):
                named, query = "colour", BAD[0]  # booleans: no integer form to get wrong
            r = await client.request(method, f"{path}?{_bad(query, name)}")
            assert_problem(r, 400, named)
    lines = [json.loads(JsonFormatter().format(rec)) for rec in caplog.records]
    access = [line for line in lines if line["logger"] == "service.access"]
    assert [(line["status"], line["key"]) for line in access] == [(400, "test-admin")] * 3


@pytest.mark.parametrize("query", MALFORMED)
async def test_with_a_key_a_malformed_query_is_400_naming_the_query(
    client: Client, query: str
) -> None:
    assert_problem(await client.get(f"{BASE}?{query}"), 400, "query")
