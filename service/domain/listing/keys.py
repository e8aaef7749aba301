"""Search keys stored beside each VM so that every ListVMs filter and sort has an index."""

from __future__ import annotations

import ipaddress
from typing import Any

from service.domain.schemas import VM


def ip_key(address: str | ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    """A form of an address that sorts numerically: `4` + 8 hex digits, or `6` + 32 hex digits."""
    ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    return f"{ip.version}{int(ip):0{ip.max_prefixlen // 4}x}"


IP_NET_LEVELS = {4: (8, 16, 24), 6: (32, 40, 48, 56, 64)}
"""The prefix lengths at which each address's enclosing networks are stored (`ip_nets`): an
ip_in of one of them, or of a network up to IP_NET_FANOUT of them wide, is then one lookup (or a
merge of lookups) on the index {ip_nets, created_at, _id}, newest first without sorting."""
IP_NET_FANOUT = 128
"""The most networks of one level an ip_in is turned into, so that every prefix length from 7
bits above a level to the level is such a lookup: MongoDB merges that many index scans in order
(a /17, 128 stored /24s, ~1.7 ms at 1,000,000 VMs; past 200 its planner sorts every match)."""


def ip_net(key: str, prefix_length: int) -> str:
    """The network of `prefix_length` bits (a multiple of 4) enclosing the address whose ip_key
    is `key`, as that ip_key's prefix: `4` + 4 hex digits is a /16, `6` + 12 a /48."""
    return key[: 1 + prefix_length // 4]


def ip_nets(key: str) -> list[str]:
    """The networks at IP_NET_LEVELS enclosing the address whose ip_key is `key`."""
    return [ip_net(key, bits) for bits in IP_NET_LEVELS[int(key[0])]]


def search_keys(fields: dict[str, Any]) -> dict[str, Any]:
    """The stored search keys derived from whichever of name, labels and ip_address are given
    (ip_address: its sortable ip_key and its enclosing networks, ip_nets)."""
    keys: dict[str, Any] = {}
    if "name" in fields:
        keys["name_key"] = fields["name"].lower()
    if "labels" in fields:
        labels: dict[str, str] = fields["labels"]
        keys["label_terms"] = sorted([*labels, *(f"{k}={v}" for k, v in labels.items())])
    if "ip_address" in fields:
        ip = fields["ip_address"]
        keys["ip_key"] = None if ip is None else ip_key(ip)
        keys["ip_nets"] = [] if ip is None else ip_nets(keys["ip_key"])
    return keys


def sort_value(vm: VM, field: str) -> Any:
    """The value of `vm`'s stored sort key `field` (what the page token remembers)."""
    return vm.name.lower() if field == "name_key" else getattr(vm, field)
