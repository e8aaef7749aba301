"""service.domain.listing without MongoDB: IP keys, search keys, prefix ranges, page tokens."""

from __future__ import annotations

import ipaddress
import random
from datetime import UTC, datetime

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
    }
    assert search_keys({"ip_address": None, "os": "x"}) == {"ip_key": None}
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
    assert set(query) == {"os", "label_terms", "name_key", "ip_key", "deleted_at"}
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
