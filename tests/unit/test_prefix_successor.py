"""The name_prefix range bound: a valid string, and exact, at every code point boundary."""

from __future__ import annotations

import itertools
import sys

import bson
import msgspec
import pytest

from service.domain.errors import ValidationFailed
from service.domain.listing import ListParams, build_filter, next_code_point, prefix_successor

# Each side of every UTF-8 length change, the surrogate gap, U+FFFF and the last code point.
BOUNDARIES = [
    "\x00", "a", "\x7f", "\x80", "\u07ff", "\u0800", "\ud7fe", "\ud7ff", "\ue000",
    "\ufffe", "\uffff", "\U00010000", "\U0010fffe", "\U0010ffff",
]  # fmt: skip


def utf8_order(text: str) -> bytes:
    """How MongoDB orders strings: by their UTF-8 bytes."""
    return text.encode()


@pytest.mark.parametrize("char", BOUNDARIES)
def test_the_next_code_point_is_always_a_scalar_value(char: str) -> None:
    following = next_code_point(char)
    if char == chr(sys.maxunicode):
        assert following is None
    else:
        assert following is not None
        following.encode()  # never a surrogate
        assert utf8_order(char) < utf8_order(following)
        between = range(ord(char) + 1, ord(following))
        assert all(0xD800 <= c <= 0xDFFF for c in between)  # only surrogates are skipped


def test_the_range_holds_exactly_the_strings_with_the_prefix() -> None:
    strings = ["".join(p) for n in range(4) for p in itertools.product(BOUNDARIES, repeat=n)]
    for prefix in (s for s in strings if 1 <= len(s) <= 2):
        successor = prefix_successor(prefix)
        if successor is not None:
            successor.encode()
        for text in strings:
            inside = utf8_order(prefix) <= utf8_order(text) and (
                successor is None or utf8_order(text) < utf8_order(successor)
            )
            assert inside == text.startswith(prefix), (prefix, text, successor)


@pytest.mark.parametrize(
    "prefix",
    [
        "\ud7ff", "a\ud7ff", "A\ud7ff\ud7ff", "\uffff", "a\uffff", "\U0010ffff", "a\U0010ffff",
        "\U0010ffff" * 63, "\ud7ff" + "\U0010ffff" * 62, "\u212a", "\u0130", "web-\U0001f600",
    ],
)  # fmt: skip
def test_every_name_prefix_filter_encodes_as_bson(prefix: str) -> None:
    query = build_filter(ListParams(name_prefix=prefix))
    bound = query["name_key"]
    assert bound["$gte"] == prefix.lower()
    assert bound.get("$lt") == prefix_successor(prefix.lower())
    bson.encode(query)  # raised UnicodeEncodeError after U+D7FF


@pytest.mark.parametrize(
    "params",
    [
        {"name_prefix": "a\ud800"}, {"name_prefix": "\udfff"}, {"os": ["x", "\ud800"]},
        {"label": ["k=\udc00"]}, {"ip_address": "\ud800"}, {"ip_in": "\ud800"},
        {"page_token": "\ud800"},
    ],
)  # fmt: skip
def test_text_with_a_lone_surrogate_is_refused_naming_the_parameter(
    params: dict[str, object],
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        build_filter(msgspec.convert(params, ListParams))
    assert caught.value.extra["errors"][0]["field"] == next(iter(params))
