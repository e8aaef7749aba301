"""ListVMs at the edges of Unicode and of every value type: 200 with the right VMs, or a 400 naming
the parameter; never a 500."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from service.domain.listing import QUERY_PARAMS
from tests.api.helpers import BASE, Client, assert_problem
from tests.api.listing_data import vm_doc, walk

pytestmark = pytest.mark.usefixtures("clean")
Raw = dict[str, Any]

# Each side of every UTF-8 length change, the surrogate gap, U+FFFF and the last code point.
EDGES = ["a", "\x7f", "\x80", "\u07ff", "\u0800", "\ud7ff", "\ue000", "\uffff", "\U00010000",
         "\U0010fffe", "\U0010ffff"]  # fmt: skip
MAX = "\U0010ffff"
PREFIXES = [
    *EDGES, *("a" + c for c in EDGES), *(c + c for c in EDGES), "\ud7ff\U0010ffff",
    MAX * 63, "a" + MAX * 62, "\ud7ff" + MAX * 62, "A\ud7ff", "\u212a", "b",
]  # fmt: skip


async def seed_edge_names(db: AsyncDatabase[Raw]) -> dict[str, str]:
    """Store VMs named after edge strings; return name -> the name_key MongoDB sorts on."""
    names = ["".join(p) for n in (1, 2, 3) for p in itertools.product(EDGES[::2], repeat=n)]
    names += [*PREFIXES, MAX * 63, "a" + MAX * 62, "\ud7ff" + MAX * 62, "k", "K1"]
    stored: dict[str, str] = {}
    for i, name in enumerate(dict.fromkeys(names)):
        doc = vm_doc(i, name=name)
        try:  # the case-insensitive name index (ICU) may see two of them as one name
            await db.vms.insert_one(doc)
        except DuplicateKeyError:
            continue
        stored[name] = doc["name_key"]
    return stored


def utf8(text: str) -> bytes:
    return text.encode()


async def test_name_prefix_at_every_code_point_edge_finds_exactly_its_vms(
    client: Client, db: AsyncDatabase[Raw]
) -> None:
    stored = await seed_edge_names(db)
    assert {"\ud7ff", "a\ud7ff", "\ue000", "a\ue000", MAX, "a" + MAX * 62} <= stored.keys()
    ids = {doc["name"]: str(doc["_id"]) async for doc in db.vms.find({}, {"name": 1})}
    for prefix in PREFIXES:
        low = prefix.lower()
        expected = [n for n in stored if stored[n].startswith(low)]
        for sort, descending in (("name", False), ("-name", True)):
            order = sorted(expected, key=lambda n: (utf8(stored[n]), ids[n]), reverse=descending)
            found = await walk(client, {"name_prefix": prefix, "sort": sort}, page_size=3)
            assert [vm["name"] for vm in found] == order, (prefix, sort)


async def test_pages_sorted_by_name_walk_across_every_edge(
    client: Client, db: AsyncDatabase[Raw]
) -> None:
    stored = await seed_edge_names(db)
    ids = {doc["name"]: str(doc["_id"]) async for doc in db.vms.find({}, {"name": 1})}
    order = sorted(stored, key=lambda n: (utf8(stored[n]), ids[n]))
    for page_size in (1, 4):
        found = await walk(client, {"sort": "name"}, page_size=page_size)
        assert [vm["name"] for vm in found] == order


INTS = [
    "9223372036854775807", "9223372036854775808", "-9223372036854775809",
    "18446744073709551616", "1" + "0" * 400, "-1", "1e400", "NaN", "0x10", "1_0", "\uff11",
]  # fmt: skip
TEXTS = [
    "\x00", "a\x00b", MAX, MAX * 64, "x" * 4000, "\ud7ff" * 64, "\u212a", "\u0130", "\ufeff",
    "a\u0301", "$gt", '{"$gt": ""}', ".*", "\\", "=", "!", "!=", "::", "0.0.0.0/0", "::/0",
    "true", "", "\ud7ff", "a\ud7ff", "\U0010ffff\ud7ff",
    "0001-01-01T00:00:00Z", "0001-01-01T00:00:00+23:59", "9999-12-31T23:59:59-23:59",
    "9999-12-31T23:59:59.999999999Z", "2026-02-30T00:00:00Z", "2026-01-01T00:00:00+24:00",
]  # fmt: skip


@pytest.mark.parametrize("name", sorted(QUERY_PARAMS))
async def test_any_value_of_any_parameter_is_a_200_or_a_400_naming_it(
    client: Client, db: AsyncDatabase[Raw], name: str
) -> None:
    await db.vms.insert_many([vm_doc(i) for i in range(3)])
    for value in [*INTS, *TEXTS]:
        response = await client.get(BASE, params={name: value})
        if response.status_code != 200:
            problem = assert_problem(response, 400)
            assert {e["field"] for e in problem["errors"]} & {name, "query"}, (value, problem)
