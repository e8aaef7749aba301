"""The VM filters ListVMs, WatchVMs and ExportVMs share: one dependency, `filters`, declaring
each filter query parameter once."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from litestar.di import NamedDependency, Provide
from litestar.params import Parameter

from service.domain.listing import MAX_RANGE, ListParams, check_times
from service.domain.schemas import VMStatus
from service.http.controllers.params import Req

# Type, bounds and OpenAPI description of each filter, for `name: Alias = None` in a signature.
Projects = Annotated[
    list[str] | None,
    Parameter(
        description="repeatable; any of these projects (default: every project the key reads; "
        "403 for one it may not)"
    ),
]
Statuses = Annotated[
    list[VMStatus] | None, Parameter(description="repeatable; any of these statuses")
]
OSNames = Annotated[
    list[str] | None, Parameter(description="repeatable; any of these OS names, exactly")
]
NamePrefix = Annotated[
    str | None, Parameter(description="names starting with this, ignoring case, taken literally")
]
Labels = Annotated[
    list[str] | None,
    Parameter(description="repeatable, all must hold: `key=value`, `key` or `!key`"),
]
Min = Annotated[int | None, Parameter(description="at least", ge=0, le=MAX_RANGE)]
Max = Annotated[int | None, Parameter(description="at most", ge=0, le=MAX_RANGE)]
CreatedAfter = Annotated[
    datetime | None, Parameter(description="RFC 3339; created at or after (inclusive)")
]
CreatedBefore = Annotated[
    datetime | None, Parameter(description="RFC 3339; created before (exclusive)")
]
IPAddress = Annotated[str | None, Parameter(description="this exact IPv4 or IPv6 address")]
IPIn = Annotated[str | None, Parameter(description="addresses inside this CIDR, e.g. 10.0.0.0/24")]


def filter_params(
    request: Req,
    project: Projects = None,
    status: Statuses = None,
    os: OSNames = None,
    name_prefix: NamePrefix = None,
    label: Labels = None,
    cpu_cores_min: Min = None,
    cpu_cores_max: Max = None,
    memory_mib_min: Min = None,
    memory_mib_max: Max = None,
    storage_gib_min: Min = None,
    storage_gib_max: Max = None,
    created_after: CreatedAfter = None,
    created_before: CreatedBefore = None,
    ip_address: IPAddress = None,
    ip_in: IPIn = None,
) -> ListParams:
    """The filters as ListParams (sort and paging at their defaults): each type-checked by
    Litestar, the times' RFC 3339 form checked here (the parser alone would take `0.5` as a
    timestamp). The query check (service.http.middleware.pipeline) refuses unknown and repeated
    names beforehand."""
    query = request.query_params
    check_times({k: query[k] for k in ("created_after", "created_before") if k in query})
    return ListParams(
        project=project,
        status=status,
        os=os,
        name_prefix=name_prefix,
        label=label,
        cpu_cores_min=cpu_cores_min,
        cpu_cores_max=cpu_cores_max,
        memory_mib_min=memory_mib_min,
        memory_mib_max=memory_mib_max,
        storage_gib_min=storage_gib_min,
        storage_gib_max=storage_gib_max,
        created_after=created_after,
        created_before=created_before,
        ip_address=ip_address,
        ip_in=ip_in,
    )


Filters = NamedDependency[ListParams]
"""A handler parameter `filters: Filters` (with `dependencies=FILTERS`): the filters given."""
FILTERS = {"filters": Provide(filter_params, sync_to_thread=False)}
