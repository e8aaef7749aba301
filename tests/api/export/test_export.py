"""ExportVMs: ListVMs' filters and order, NDJSON or CSV, content negotiation, parameter errors."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest

from tests.api.helpers import BASE, Client, assert_problem, vm_body

pytestmark = pytest.mark.usefixtures("clean")
EXPORT = f"{BASE}/export"


@pytest.fixture
async def vms(client: Client, clean: Any) -> list[dict[str, Any]]:
    made = []
    for i in range(12):
        body = vm_body(
            name=f"{'Web' if i % 2 else 'db'}-{i:02d}",
            status=["provisioning", "running", "stopped"][i % 3],
            cpu_cores=1 + i % 4,
            labels={"env": "prod" if i % 3 else "dev", "note": "a;b=c%" if i == 5 else "x"},
            ip_address=f"10.0.{i % 2}.{i + 1}" if i % 4 else None,
            description='quoted "text", with, commas\nand a newline' if i == 7 else "",
        )
        r = await client.post(BASE, json=body)
        assert r.status_code == 201, r.text
        made.append(r.json())
    return made


async def _listed(client: Client, params: dict[str, Any]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    token = None
    while True:
        page = (
            await client.get(
                BASE, params={**params, "page_size": 5, **({"page_token": token} if token else {})}
            )
        ).json()
        items += page["items"]
        token = page["next_page_token"]
        if token is None:
            return items


def _ndjson(text: str) -> list[dict[str, Any]]:
    assert text == "" or text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"sort": "name"},
        {"sort": "-cpu_cores", "status": ["running", "stopped"]},
        {"label": "env=prod", "name_prefix": "WEB"},
        {"ip_in": "10.0.1.0/24", "sort": "memory_mib"},
        {"cpu_cores_min": 2, "cpu_cores_max": 3, "sort": "-name"},
        {"os": "nothing-matches"},
    ],
)
async def test_ndjson_is_every_match_of_list_vms_in_its_order(
    client: Client, vms: list[dict[str, Any]], params: dict[str, Any]
) -> None:
    r = await client.get(EXPORT, params=params)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/x-ndjson")
    assert _ndjson(r.text) == await _listed(client, params)


async def test_csv_parses_with_the_csv_module(client: Client, vms: list[dict[str, Any]]) -> None:
    r = await client.get(EXPORT, params={"sort": "name"}, headers={"Accept": "text/csv"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text, newline="")))
    listed = await _listed(client, {"sort": "name"})
    assert [row["id"] for row in rows] == [vm["id"] for vm in listed]
    for row, vm in zip(rows, listed, strict=True):
        labels = dict(part.split("=", 1) for part in row["labels"].split(";"))
        decoded = {k: v.replace("%3B", ";").replace("%25", "%") for k, v in labels.items()}
        assert decoded == vm["labels"]
        assert row["description"] == vm["description"]
        assert row["ip_address"] == (vm["ip_address"] or "")
        assert int(row["cpu_cores"]) == vm["cpu_cores"] and row["status"] == vm["status"]
        assert row["created_at"].replace("+00:00", "Z").startswith(vm["created_at"][:19])


@pytest.mark.parametrize(
    ("accept", "kind"),
    [
        ("application/x-ndjson", "ndjson"),
        ("*/*", "ndjson"),
        ("text/csv", "csv"),
        ("text/*", "csv"),
        ("application/x-ndjson;q=0.5, text/csv", "csv"),
        ("text/csv;q=0.2, */*;q=0.9", "ndjson"),
    ],
)
async def test_accept_picks_the_format(
    client: Client, vms: list[dict[str, Any]], accept: str, kind: str
) -> None:
    r = await client.get(EXPORT, headers={"Accept": accept})
    assert r.status_code == 200
    expected = "text/csv" if kind == "csv" else "application/x-ndjson"
    assert r.headers["content-type"].startswith(expected)


async def test_an_empty_export(client: Client) -> None:
    assert (await client.get(EXPORT)).text == ""
    header = (await client.get(EXPORT, headers={"Accept": "text/csv"})).text
    assert list(csv.reader(io.StringIO(header))) == [
        ["id", "name", "project", "status", "os", "cpu_cores", "memory_mib", "storage_gib",
         "ip_address", "labels", "description", "revision", "created_at", "updated_at"]
    ]  # fmt: skip


async def test_unacceptable_accept_is_406(client: Client) -> None:
    assert_problem(await client.get(EXPORT, headers={"Accept": "application/xml"}), 406)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"page_size": 10}, "page_size"),
        ({"page_token": "x"}, "page_token"),
        ({"include_total": "true"}, "include_total"),
        ({"colour": "red"}, "colour"),
        ({"cpu_cores_min": 4, "cpu_cores_max": 2}, "cpu_cores_min"),
        ({"ip_in": "10.0.0.1/24"}, "ip_in"),
        ({"created_after": "0.5"}, "created_after"),
        ({"sort": "color"}, "sort"),
        ({"name_prefix": ["a", "b"]}, "name_prefix"),
    ],
)
async def test_bad_parameters_are_400_naming_them(
    client: Client, params: dict[str, Any], field: str
) -> None:
    assert_problem(await client.get(EXPORT, params=params), 400, field)
