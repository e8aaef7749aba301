"""service.domain.listing without MongoDB: IP keys, search keys, prefix ranges, page tokens."""

from __future__ import annotations

import ipaddress
import random
from datetime import UTC, datetime
from typing import Any

import pytest

from service.domain.errors import ValidationFailed
from service.domain.listing import ListParams, PageTokens, build_filter, ip_key, search_keys


def test_ip_keys_sort_numerically_within_and_across_families() -> None:
    rng = random.Random(4)
    v4 = [ipaddress.IPv4Address(rng.getrandbits(32)) for _ in range(300)]
    v6 = [ipaddress.IPv6Address(rng.getrandbits(128)) for _ in range(300)]
    edges = ["0.0.0.0", "255.255.255.255", "9.0.0.0", "10.0.0.0", "::", "::ffff:10.0.0.1"]
    addresses = [*v4, *v6, *(ipaddress.ip_address(e) for e in edges)]
    by_key = sorted(addresses, key=ip_key)
    assert by_key == sorted(addresses, key=lambda a: (a.version, int(a)))
    assert ip_key("10.0.0.1") != ip_key("::ffff:10.0.0.1")  # a v4-mapped address is IPv6 here


def test_search_keys_follow_the_written_fields() -> None:
    keys = search_keys({"name": "Web-01", "labels": {"b": "2", "a": ""}, "ip_address": "::1"})
    assert keys == {
        "name_key": "web-01",
        "label_terms": ["a", "a=", "b", "b=2"],
        "ip_key": "6" + "0" * 31 + "1",
        "ip_nets": ["6" + "0" * n for n in (8, 10, 12, 14, 16)],  # its /32 to /64
    }
    assert search_keys({"ip_address": "10.7.1.2"})["ip_nets"] == ["40a", "40a07", "40a0701"]
    assert search_keys({"ip_address": None, "os": "x"}) == {"ip_key": None, "ip_nets": []}
    assert search_keys({"description": "x"}) == {}


@pytest.mark.parametrize(
    ("prefix", "low", "high"),
    [
        ("Web-0", "web-0", "web-1"),
        ("a.b", "a.b", "a.c"),
        ("x" + chr(0x10FFFF), "x" + chr(0x10FFFF), "y"),
    ],
)
def test_name_prefix_is_a_literal_case_insensitive_range(prefix: str, low: str, high: str) -> None:
    assert build_filter(ListParams(name_prefix=prefix))["name_key"] == {"$gte": low, "$lt": high}


def test_client_text_never_becomes_an_operator() -> None:
    params = ListParams(
        os=["$where", "{'$gt': ''}"],
        label=["env=$ne", "k"],
        name_prefix="$regex",
        ip_in="10.0.0.0/8",
    )
    query = build_filter(params)
    assert set(query) == {"os", "label_terms", "name_key", "ip_nets", "deleted_at"}
    assert query["deleted_at"] is None  # the live condition, ours
    assert query["os"] == {"$in": ["$where", "{'$gt': ''}"]}
    assert query["label_terms"] == {"$all": ["env=$ne", "k"]}


def test_times_are_compared_in_utc() -> None:
    query = build_filter(
        ListParams(created_after=datetime.fromisoformat("2026-01-01T02:00:00+02:00"))
    )
    assert query["created_at"] == {"$gte": datetime(2026, 1, 1, tzinfo=UTC)}


def test_tokens_round_trip_and_resist_tampering() -> None:
    tokens = PageTokens("secret")
    moment = datetime(2026, 1, 1, 12, 30, 1, 5000, tzinfo=UTC)
    token = tokens.encode("b1", moment, "665f1c2e8b3e4a0012345678")
    cursor = tokens.decode(token, "b1", "created_at")
    assert (cursor.value, cursor.id, cursor.ties) == (moment, "665f1c2e8b3e4a0012345678", True)
    assert PageTokens("secret").decode(token, "b1", "created_at").value == moment
    for bad, binding, secret in [
        (token, "b2", "secret"),  # other filters or sort
        (token, "b1", "other"),  # other server secret
        (token[:-2], "b1", "secret"),
        *((token[:-1] + c, "b1", "secret") for c in "AQgw_-" if c != token[-1]),  # spare bits
        ("", "b1", "secret"),
        ("!!!", "b1", "secret"),
    ]:
        with pytest.raises(ValidationFailed) as caught:
            PageTokens(secret).decode(bad, binding, "created_at")
        assert caught.value.extra["errors"][0]["field"] == "page_token"


def test_without_a_secret_each_process_has_its_own() -> None:
    token = PageTokens().encode("b", 4, "665f1c2e8b3e4a0012345678")
    with pytest.raises(ValidationFailed):
        PageTokens().decode(token, "b", "cpu_cores")


@pytest.mark.parametrize(
    ("network", "condition"),
    [
        ("10.0.0.0/8", {"ip_nets": "40a"}),  # a stored level: one index lookup
        ("10.16.0.0/12", {"ip_nets": {"$in": [f"40a{n:02x}" for n in range(16, 32)]}}),
        ("10.7.0.0/20", {"ip_nets": {"$in": [f"40a07{n:02x}" for n in range(16)]}}),
        ("2001:db8:1:100::/56", {"ip_nets": "620010db8000101"}),
        ("2001:db8::/29", {"ip_nets": {"$in": [f"620010db{n:x}" for n in range(8, 16)]}}),
        # Between levels, below the finest: the range, inside its enclosing stored network.
        ("10.7.0.0/17", {"ip_nets": {"$in": [f"40a07{n:02x}" for n in range(128)]}}),
        ("128.0.0.0/1", {"ip_nets": {"$in": [f"4{n:02x}" for n in range(128, 256)]}}),
        ("2001:d80::/25", {"ip_nets": {"$in": [f"62001{n:04x}" for n in range(0xD80, 0xE00)]}}),
        ("10.7.1.128/25", {"ip_key": {"$gte": "40a070180", "$lte": "40a0701ff"},
                           "ip_nets": "40a0701"}),
        ("0.0.0.0/0", {"ip_key": {"$gte": "4" + "0" * 8, "$lte": "4" + "f" * 8}}),
        ("2001::/16", {"ip_key": {"$gte": "62001" + "0" * 28, "$lte": "62001" + "f" * 28}}),
    ],
)  # fmt: skip
def test_ip_in_uses_the_stored_networks_that_tile_it(network: str, condition: Any) -> None:
    query = build_filter(ListParams(ip_in=network))
    assert {k: v for k, v in query.items() if k.startswith("ip_")} == condition
