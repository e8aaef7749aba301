"""The VM filter query parameters ListVMs, WatchVMs and ExportVMs share: each declared once."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Annotated, Any

from litestar.params import Parameter

from service.domain.listing import MAX_RANGE, ListParams, check_times
from service.domain.schemas import VMStatus
from service.http.controllers.params import Req

# Type, bounds and OpenAPI description of each filter, for `name: Alias = None` in a signature.
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

FILTER_FIELDS = ListParams.__struct_fields__[: ListParams.__struct_fields__.index("sort")]
"""ListParams' filter fields (before sort and paging): what every filtering route takes."""


def check_query(request: Req, check_names: Callable[[list[str], dict[str, int]], None]) -> None:
    """The route's parameter names (by `check_names`) and the times' RFC 3339 form: the checks
    Litestar's parsing lacks (it would take `0.5` as a timestamp)."""
    query = request.query_params
    check_names(list(query.keys()), {k: len(query.getall(k)) for k in query})
    check_times({k: query[k] for k in ("created_after", "created_before") if k in query})


def list_params_of(given: Mapping[str, Any], fields: tuple[str, ...]) -> ListParams:
    """ListParams of `fields`, taken by name from `given` (a handler's parameters, its locals())."""
    return ListParams(**{name: given[name] for name in fields})
