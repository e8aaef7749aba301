"""Search keys stored beside each VM so that every ListVMs filter and sort has an index."""

from __future__ import annotations

import ipaddress
from typing import Any

from service.domain.schemas import VM


def ip_key(address: str | ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    """A form of an address that sorts numerically: `4` + 8 hex digits, or `6` + 32 hex digits."""
    ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    return f"{ip.version}{int(ip):0{ip.max_prefixlen // 4}x}"


def search_keys(fields: dict[str, Any]) -> dict[str, Any]:
    """The stored search keys derived from whichever of name, labels and ip_address are given."""
    keys: dict[str, Any] = {}
    if "name" in fields:
        keys["name_key"] = fields["name"].lower()
    if "labels" in fields:
        labels: dict[str, str] = fields["labels"]
        keys["label_terms"] = sorted([*labels, *(f"{k}={v}" for k, v in labels.items())])
    if "ip_address" in fields:
        ip = fields["ip_address"]
        keys["ip_key"] = None if ip is None else ip_key(ip)
    return keys


def sort_value(vm: VM, field: str) -> Any:
    """The value of `vm`'s stored sort key `field` (what the page token remembers)."""
    return vm.name.lower() if field == "name_key" else getattr(vm, field)
