"""A project's shape: its name, quota and usage, and what a VM write changes of that usage."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType

from service.domain.schemas import ProjectName, Timestamp

DEFAULT_PROJECT = "default"
"""Every VM from before projects, and an unrestricted key's VMs; it has no limits and stays."""
RESOURCES = ("vms", "cpu_cores", "memory_mib", "storage_gib")
"""What a quota limits and usage counts: live VMs, and the sums of their sizes."""
PROJECT_DESCRIPTION_MAX_LENGTH = 1024

Limit = Annotated[int, Meta(ge=0, le=2**53, description="null: no limit")]


class Quota(Struct, forbid_unknown_fields=True, kw_only=True):
    """A project's limits (null: none): live VMs, and the sums of their sizes."""

    vms: Limit | None = None
    cpu_cores: Limit | None = None
    memory_mib: Limit | None = None
    storage_gib: Limit | None = None


class QuotaPatch(Struct, forbid_unknown_fields=True, kw_only=True):
    """A JSON Merge Patch of a quota: a member given sets that limit (null: no limit)."""

    vms: Limit | UnsetType | None = UNSET
    cpu_cores: Limit | UnsetType | None = UNSET
    memory_mib: Limit | UnsetType | None = UNSET
    storage_gib: Limit | UnsetType | None = UNSET


class Usage(Struct, kw_only=True):
    """What a project's live VMs use (a deleted VM uses nothing)."""

    vms: int = 0
    cpu_cores: int = 0
    memory_mib: int = 0
    storage_gib: int = 0


Description = Annotated[str, Meta(max_length=PROJECT_DESCRIPTION_MAX_LENGTH)]


class ProjectCreate(Struct, forbid_unknown_fields=True, kw_only=True):
    """Body of CreateProject."""

    name: ProjectName
    description: Description = ""
    quota: Quota = msgspec.field(default_factory=Quota)


class ProjectUpdate(Struct, forbid_unknown_fields=True, kw_only=True):
    """Body of UpdateProject, a JSON Merge Patch (the name never changes)."""

    description: Description | UnsetType = UNSET
    quota: QuotaPatch | UnsetType = UNSET


class Project(Struct, kw_only=True):
    """A project as the API returns it."""

    name: str
    description: str
    quota: Quota
    usage: Usage
    revision: int
    created_at: Timestamp
    updated_at: Timestamp


class ProjectPage(Struct, kw_only=True):
    """One page of projects; `next_page_token` is null on the last page."""

    items: list[Project]
    next_page_token: str | None


@dataclass(frozen=True, slots=True)
class UsageChange:
    """What one write changes of its project's usage (`delta` by resource; zeros left out).
    A write raising any resource is checked against the quota in the same atomic step."""

    project: str
    delta: dict[str, int]

    def __bool__(self) -> bool:
        """Whether the write changes usage at all."""
        return any(self.delta.values())

    @property
    def raises(self) -> dict[str, int]:
        """The resources the write raises, by how much (what the quota must still allow)."""
        return {r: d for r, d in self.delta.items() if d > 0}


def usage_of(vm: Any) -> dict[str, int]:
    """What a live VM (a VM, or its fields as a mapping) uses."""
    if isinstance(vm, dict):
        return {"vms": 1, **{r: int(vm[r]) for r in RESOURCES[1:]}}
    return {"vms": 1, **{r: int(getattr(vm, r)) for r in RESOURCES[1:]}}


def change(
    project: str, before: dict[str, int] | None, after: dict[str, int] | None
) -> UsageChange:
    """The usage change of a write taking a VM's usage from `before` to `after` (None: the VM
    is not live there)."""
    delta = {r: (after or {}).get(r, 0) - (before or {}).get(r, 0) for r in RESOURCES}
    return UsageChange(project, {r: d for r, d in delta.items() if d})


def combined(changes: list[UsageChange]) -> list[UsageChange]:
    """Changes summed per project (what a group of writes in one transaction changes)."""
    totals: dict[str, dict[str, int]] = {}
    for one in changes:
        total = totals.setdefault(one.project, dict.fromkeys(RESOURCES, 0))
        for resource, amount in one.delta.items():
            total[resource] += amount
    return [UsageChange(p, {r: n for r, n in t.items() if n}) for p, t in totals.items()]
