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


def _new_name(op: Operation) -> str | None:
    name = getattr(getattr(op, "vm", None) or getattr(op, "patch", None), "name", None)
    return name.lower() if isinstance(name, str) else None


def item_keys(op: Operation) -> set[str]:
    """The VM ids and names (lowercased) an item touches: items sharing one run in order."""
    keys: set[str] = set()
    if isinstance(op, Update | Replace | Delete):
        keys.add("id:" + op.vm_id.lower())
    if isinstance(op, Upsert):
        keys.add("name:" + op.name.lower())
    if (name := _new_name(op)) is not None:
        keys.add("name:" + name)
    return keys


def freeing(op: Operation) -> str | None:
    """The VM id of a delete, or of a write that may rename it: it may free that VM's name."""
    if isinstance(op, Delete | Replace) or (isinstance(op, Update) and _new_name(op) is not None):
        return op.vm_id.lower()
    return None


def named_by_id(op: Operation, upserts: bool) -> str | None:
    """The VM id whose names also key `op`: a delete's or possible rename's (it may free a name a
    later item claims) and, in a batch with upserts, any item by id (an upsert of that VM's name
    writes the same VM)."""
    if (vm_id := freeing(op)) is not None:
        return vm_id
    if upserts and isinstance(op, Update | Replace | Delete):
        return op.vm_id.lower()
    return None


def upserts_by_name(ops: list[Operation]) -> bool:
    """Whether an item of `ops` writes a VM by its name (UpsertVM)."""
    return any(isinstance(op, Upsert) for op in ops)


def claims_a_name(op: Operation) -> bool:
    """A create, upsert or rename: it takes a name (which a delete or rename may free)."""
    return isinstance(op, Upsert) or _new_name(op) is not None


def batch_keys(ops: list[Operation], names: dict[str, str]) -> list[set[str]]:
    """Each item's keys, those of `named_by_id` with every name its VM may have at that point of
    the batch (`names`: the current name of each VM id, then the names earlier items give it),
    so that it runs in input order with the items claiming or upserting that name."""
    known = {vm_id.lower(): {name.lower()} for vm_id, name in names.items()}
    upserts = upserts_by_name(ops)
    out: list[set[str]] = []
    for op in ops:
        keys = item_keys(op)
        if (vm_id := named_by_id(op, upserts)) is not None:
            keys |= {"name:" + name for name in known.get(vm_id, ())}
            if (name := _new_name(op)) is not None:
                known.setdefault(vm_id, set()).add(name)
        out.append(keys)
    return out
