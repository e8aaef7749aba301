"""The items of a batch as the use cases take them, and what each one did."""

from __future__ import annotations

from dataclasses import dataclass

from service.domain.errors import DomainError
from service.domain.schemas import VM, VMCreate, VMPatch, VMReplace


@dataclass(frozen=True, slots=True)
class Create:
    """A batch item: CreateVM."""

    vm: VMCreate


@dataclass(frozen=True, slots=True)
class Update:
    """A batch item: UpdateVM (merge patch)."""

    vm_id: str
    patch: VMPatch
    if_match: int | None = None


@dataclass(frozen=True, slots=True)
class Replace:
    """A batch item: ReplaceVM."""

    vm_id: str
    vm: VMReplace
    if_match: int | None = None


@dataclass(frozen=True, slots=True)
class Upsert:
    """A batch item: UpsertVM (create or replace by name)."""

    name: str
    vm: VMReplace


@dataclass(frozen=True, slots=True)
class Delete:
    """A batch item: DeleteVM."""

    vm_id: str
    force: bool = False
    if_match: int | None = None


@dataclass(frozen=True, slots=True)
class Refused:
    """A batch item refused before it runs (an invalid body, a missing If-Match): that error."""

    error: DomainError


Operation = Create | Update | Replace | Upsert | Delete | Refused


@dataclass(slots=True)
class Outcome:
    """What one item did: the VM it wrote (none for a delete), or the error the item met."""

    index: int
    vm: VM | None = None
    created: bool = False
    error: DomainError | None = None


def item_keys(op: Operation) -> set[str]:
    """The VM ids and names (lowercased) an item touches: items sharing one run in order."""
    keys: set[str] = set()
    if isinstance(op, Update | Replace | Delete):
        keys.add("id:" + op.vm_id.lower())
    if isinstance(op, Upsert):
        keys.add("name:" + op.name.lower())
    name = getattr(getattr(op, "vm", None) or getattr(op, "patch", None), "name", None)
    if isinstance(name, str):
        keys.add("name:" + name.lower())
    return keys
