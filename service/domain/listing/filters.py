"""ListVMs' MongoDB filter (build_filter) and its conditions on the stored search keys: label
selectors, IP addresses and CIDRs, case-insensitive name prefixes, time bounds (whitelisted
fields, operators chosen here only)."""

from __future__ import annotations

import re
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from service.domain.errors import invalid
from service.domain.listing.keys import IP_NET_FANOUT, IP_NET_LEVELS, ip_key, ip_net
from service.domain.listing.params import RANGES, ListParams
from service.domain.listing.validation import check_params
from service.domain.rules import IPNetwork, ip_address_of, ip_network_of
from service.domain.schemas import LABEL_KEY_MAX_LENGTH, LABEL_KEY_PATTERN, LABEL_VALUE_MAX_LENGTH

_LABEL_KEY_RE = re.compile(LABEL_KEY_PATTERN.removesuffix("$"))
_SURROGATES = range(0xD800, 0xE000)  # UTF-16 halves: no character, not encodable in UTF-8
LIVE: dict[str, Any] = {"deleted_at": None}
"""The condition of a live VM: a live VM has no `deleted_at` (MongoDB's null matches missing)."""


def label_condition(selectors: list[str]) -> dict[str, Any]:
    """`key=value`, `key` (has the label) and `!key` (has not) as conditions on `label_terms`."""
    present: list[str] = []
    absent: list[str] = []
    values: dict[str, str] = {}
    for selector in selectors:
        negated = selector.startswith("!")
        key, eq, value = selector.removeprefix("!").partition("=")
        if not _LABEL_KEY_RE.fullmatch(key) or len(key) > LABEL_KEY_MAX_LENGTH or (negated and eq):
            raise invalid("label", f"{selector!r} is not `key=value`, `key` or `!key`")
        if len(value) > LABEL_VALUE_MAX_LENGTH:
            raise invalid(
                "label",
                f"{selector!r}: label values have at most {LABEL_VALUE_MAX_LENGTH} characters",
            )
        if eq and values.setdefault(key, value) != value:
            raise invalid("label", f"label {key!r} cannot equal both {values[key]!r} and {value!r}")
        (absent if negated else present).append(selector if eq else key)
    if clash := {k.partition("=")[0] for k in present} & set(absent):
        raise invalid("label", f"label {sorted(clash)[0]!r} is both required and excluded")
    condition: dict[str, Any] = {}
    if present:
        condition["$all"] = sorted(set(present))
    if absent:
        condition["$nin"] = sorted(set(absent))
    return condition


def ip_condition(ip_address: str | None, ip_in: str | None) -> dict[str, Any]:
    """`ip_address` (exact) and `ip_in` (CIDR) as conditions on the sortable `ip_key`."""
    address = None if ip_address is None else ip_address_of(ip_address)
    network = None if ip_in is None else ip_network_of(ip_in)
    if address is not None:
        if network is not None and address not in network:
            raise invalid("ip_address", f"{address} is not inside ip_in {network}")
        return {"ip_key": ip_key(address)}
    if network is not None:
        return network_condition(network)
    return {}


def network_condition(network: IPNetwork) -> dict[str, Any]:
    """`ip_in` as a condition the index {ip_nets, created_at, _id} answers in order: the stored
    networks of the next level (IP_NET_LEVELS) that tile it, when at most IP_NET_FANOUT do;
    else the range of ip_key, within its enclosing stored network if there is one."""
    levels = IP_NET_LEVELS[network.version]
    bits = network.prefixlen
    level = next((n for n in levels if n >= bits), None)
    if level is not None and 2 ** (level - bits) <= IP_NET_FANOUT:
        nets = [ip_net(ip_key(sub[0]), level) for sub in network.subnets(new_prefix=level)]
        return {"ip_nets": nets[0] if len(nets) == 1 else {"$in": nets}}
    low, high = ip_key(network[0]), ip_key(network[-1])
    condition: dict[str, Any] = {"ip_key": {"$gte": low, "$lte": high}}
    if enclosing := [n for n in levels if n < bits]:
        condition["ip_nets"] = ip_net(low, enclosing[-1])
    return condition


def next_code_point(char: str) -> str | None:
    """The Unicode scalar value after `char` (surrogates are not ones), None after U+10FFFF."""
    following = ord(char) + 1
    if following == _SURROGATES.start:
        following = _SURROGATES.stop
    return chr(following) if following <= sys.maxunicode else None


def prefix_successor(prefix: str) -> str | None:
    """The least string above every string starting with `prefix`; None when there is none.

    MongoDB orders strings by their UTF-8 bytes, that is by code point, so that is `prefix`
    without its trailing U+10FFFFs, its last character stepped to the next scalar value.
    """
    stem = prefix.rstrip(chr(sys.maxunicode))
    following = next_code_point(stem[-1]) if stem else None
    return None if following is None else stem[:-1] + following


def prefix_range(prefix: str) -> dict[str, Any]:
    """Case-insensitive literal prefix as a range on the lowercased `name_key`: [p, successor)."""
    low = prefix.lower()
    bound: dict[str, Any] = {"$gte": low}
    if (successor := prefix_successor(low)) is not None:
        bound["$lt"] = successor
    return bound


def time_bound(moment: datetime) -> datetime:
    """A created_after/created_before bound as both ListVMs (MongoDB) and WatchVMs (in process)
    compare it: in UTC, up to the next whole millisecond. Stored times are whole milliseconds
    (MongoDB keeps no more), so `t >= bound` and `t < bound` hold exactly as they would for the
    bound given; truncating it, as BSON would, made `created_after` take earlier VMs."""
    moment = moment.astimezone(UTC)
    try:
        return moment + timedelta(microseconds=-moment.microsecond % 1000)
    except OverflowError:  # in the last millisecond of year 9999: no VM is created then
        return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def build_filter(params: ListParams) -> dict[str, Any]:
    """The MongoDB filter: whitelisted fields, typed values, operators chosen here only."""
    check_params(params)
    query: dict[str, Any] = {}
    if params.project is not None:  # (none: a key left with no project sees no VM)
        query["project"] = {"$in": sorted(set(params.project))}
    if params.status:
        query["status"] = {"$in": sorted({s.value for s in params.status})}
    if params.os:
        query["os"] = {"$in": sorted(set(params.os))}
    if params.name_prefix is not None:
        query["name_key"] = prefix_range(params.name_prefix)
    if params.label and (labels := label_condition(params.label)):
        query["label_terms"] = labels
    for field in RANGES:
        bound = {}
        if (low := getattr(params, f"{field}_min")) is not None:
            bound["$gte"] = low
        if (high := getattr(params, f"{field}_max")) is not None:
            bound["$lte"] = high
        if bound:
            query[field] = bound
    created: dict[str, Any] = {}
    if params.created_after is not None:
        created["$gte"] = time_bound(params.created_after)
    if params.created_before is not None:
        created["$lt"] = time_bound(params.created_before)
    if created:
        query["created_at"] = created
    query.update(ip_condition(params.ip_address, params.ip_in))
    if not params.show_deleted:
        query.update(LIVE)
    return query
