"""The VM business rules: validation beyond the schema, status transitions, resize rules."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from service.domain.errors import (
    FieldError,
    InvalidTransition,
    RuleViolation,
    ValidationFailed,
    field_errors_of,
    invalid,
    invalid_fields,
)
from service.domain.schemas import (
    LABEL_KEY_PATTERN,
    MAX_LABELS,
    NAME_MAX_LENGTH,
    NAME_PATTERN,
    VM,
    VMStatus,
)

TRANSITIONS: dict[VMStatus, frozenset[VMStatus]] = {
    VMStatus.PROVISIONING: frozenset({VMStatus.RUNNING, VMStatus.ERROR}),
    VMStatus.RUNNING: frozenset({VMStatus.STOPPED, VMStatus.SUSPENDED, VMStatus.ERROR}),
    VMStatus.SUSPENDED: frozenset({VMStatus.RUNNING, VMStatus.STOPPED, VMStatus.ERROR}),
    VMStatus.STOPPED: frozenset({VMStatus.RUNNING, VMStatus.ERROR}),
    VMStatus.ERROR: frozenset({VMStatus.STOPPED, VMStatus.RUNNING}),
}
RESIZABLE = frozenset({VMStatus.STOPPED, VMStatus.PROVISIONING})
DELETE_NEEDS_FORCE = frozenset({VMStatus.RUNNING, VMStatus.SUSPENDED})
_NAME_RE = re.compile(NAME_PATTERN.removesuffix("$"))
_LABEL_KEY_RE = re.compile(LABEL_KEY_PATTERN.removesuffix("$"))


def utcnow() -> datetime:
    """Now in UTC, truncated to milliseconds (what MongoDB stores)."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
_NO_ZONE = "zone identifiers (%...) are not accepted"


def ip_address_of(value: str, field: str = "ip_address") -> IPAddress:
    """The IP address rule, for a VM's address and every filter: IPv4 or IPv6, no zone id."""
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        raise invalid(field, f"{value!r} is not a valid IPv4 or IPv6 address") from None
    if isinstance(address, ipaddress.IPv6Address) and address.scope_id is not None:
        raise invalid(field, _NO_ZONE)
    return address


def ip_network_of(value: str, field: str = "ip_in") -> IPNetwork:
    """A CIDR of such addresses (`10.0.0.0/24`), host bits clear."""
    try:
        network = ipaddress.ip_network(value)
    except ValueError:
        try:
            wider = ipaddress.ip_network(value, strict=False)
            hint = f"has host bits set; did you mean {wider}?"
        except ValueError:
            hint = "is not a CIDR such as 10.0.0.0/24 or 2001:db8::/48"
        raise invalid(field, f"{value!r} {hint}") from None
    if getattr(network.network_address, "scope_id", None) is not None:
        raise invalid(field, _NO_ZONE)
    return network


def canonical_ip(value: str | None) -> str | None:
    """Return the canonical text of an IPv4/IPv6 address (`2001:DB8:0::1` -> `2001:db8::1`)."""
    return None if value is None else str(ip_address_of(value))


def check_name(name: str) -> str:
    """Reject what the schema pattern lets through (`$` also matches before a final newline),
    and a name from elsewhere (UpsertVM's path) that breaks the name rules."""
    if len(name) > NAME_MAX_LENGTH:
        raise invalid("name", f"must have at most {NAME_MAX_LENGTH} characters")
    if not _NAME_RE.fullmatch(name):
        raise invalid("name", f"{name!r} does not match {NAME_PATTERN}")
    return name


def check_labels(labels: Mapping[str, object]) -> dict[str, Any]:
    """Enforce the label key pattern exactly (naming every bad key) and the label count."""
    errors = [
        FieldError(f"labels.{key}", f"label key does not match {LABEL_KEY_PATTERN}")
        for key in labels
        if not _LABEL_KEY_RE.fullmatch(key)
    ]
    if len(labels) > MAX_LABELS:
        errors.append(FieldError("labels", f"at most {MAX_LABELS} labels"))
    if errors:
        raise invalid_fields(errors)
    return dict(labels)


_RULES: dict[str, tuple[type, Callable[[Any], object]]] = {
    "name": (str, check_name),
    "ip_address": (str, canonical_ip),
    "labels": (dict, check_labels),
}


def rule_errors(fields: Mapping[str, Any]) -> list[FieldError]:
    """Every error of the rules beyond the schema (name, ip_address, label keys) among the
    given writable fields; a field of another type is the schema's to refuse."""
    errors: list[FieldError] = []
    for field, (kind, check) in _RULES.items():
        value = fields.get(field)
        if isinstance(value, kind):
            try:
                check(value)
            except ValidationFailed as exc:
                errors += field_errors_of(exc)
    return errors


def check_fields(fields: Mapping[str, Any]) -> None:
    """One 400 naming every field of `fields` that breaks a rule beyond the schema."""
    if errors := rule_errors(fields):
        raise invalid_fields(errors)


def check_transition(current: VMStatus, target: VMStatus) -> None:
    """Raise InvalidTransition unless `current -> target` is allowed (staying put always is)."""
    if target != current and target not in TRANSITIONS[current]:
        allowed = sorted(s.value for s in TRANSITIONS[current])
        raise InvalidTransition(
            f"cannot change status from {current.value} to {target.value}",
            current_status=current.value,
            allowed_transitions=allowed,
        )


def check_resize(current: VM, cpu_cores: int, memory_mib: int, storage_gib: int) -> None:
    """CPU and memory change only while stopped or provisioning; storage never shrinks."""
    if (cpu_cores, memory_mib) != (current.cpu_cores, current.memory_mib) and (
        current.status not in RESIZABLE
    ):
        raise RuleViolation(
            f"cpu_cores and memory_mib can change only while the VM is stopped or provisioning "
            f"(it is {current.status.value})"
        )
    if storage_gib < current.storage_gib:
        raise RuleViolation(
            f"storage_gib cannot shrink (from {current.storage_gib} to {storage_gib})"
        )
