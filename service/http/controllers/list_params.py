"""ListVMs' query parameters: declared once, with their OpenAPI descriptions and bounds, and built
into the domain's ListParams by Litestar (the `params` dependency of ListVMs)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from litestar.di import Provide
from litestar.params import Parameter

from service.domain.listing import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    MAX_RANGE,
    ListParams,
    SortOrder,
    check_param_names,
    check_times,
)
from service.domain.schemas import VMStatus
from service.http.controllers.params import Req


def list_params(
    request: Req,
    status: Annotated[
        list[VMStatus] | None, Parameter(description="repeatable; any of these statuses")
    ] = None,
    os: Annotated[
        list[str] | None, Parameter(description="repeatable; any of these OS names, exactly")
    ] = None,
    name_prefix: Annotated[
        str | None,
        Parameter(description="names starting with this, ignoring case, taken literally"),
    ] = None,
    label: Annotated[
        list[str] | None,
        Parameter(description="repeatable, all must hold: `key=value`, `key` or `!key`"),
    ] = None,
    cpu_cores_min: Annotated[
        int | None, Parameter(description="at least", ge=0, le=MAX_RANGE)
    ] = None,
    cpu_cores_max: Annotated[
        int | None, Parameter(description="at most", ge=0, le=MAX_RANGE)
    ] = None,
    memory_mib_min: Annotated[
        int | None, Parameter(description="at least", ge=0, le=MAX_RANGE)
    ] = None,
    memory_mib_max: Annotated[
        int | None, Parameter(description="at most", ge=0, le=MAX_RANGE)
    ] = None,
    storage_gib_min: Annotated[
        int | None, Parameter(description="at least", ge=0, le=MAX_RANGE)
    ] = None,
    storage_gib_max: Annotated[
        int | None, Parameter(description="at most", ge=0, le=MAX_RANGE)
    ] = None,
    created_after: Annotated[
        datetime | None, Parameter(description="RFC 3339; created at or after (inclusive)")
    ] = None,
    created_before: Annotated[
        datetime | None, Parameter(description="RFC 3339; created before (exclusive)")
    ] = None,
    ip_address: Annotated[
        str | None, Parameter(description="this exact IPv4 or IPv6 address")
    ] = None,
    ip_in: Annotated[
        str | None, Parameter(description="addresses inside this CIDR, e.g. 10.0.0.0/24")
    ] = None,
    sort: Annotated[
        SortOrder, Parameter(description="`-` for descending; ties broken by id")
    ] = SortOrder.CREATED_AT_DESC,
    page_size: Annotated[int, Parameter(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
    page_token: Annotated[
        str | None,
        Parameter(description="next_page_token of the previous page, with the same filters"),
    ] = None,
    include_total: Annotated[
        bool, Parameter(description="add total_size, the count under the same filters")
    ] = False,
    show_deleted: Annotated[
        bool,
        Parameter(description="include deleted VMs (restorable until their purge_at)"),
    ] = False,
) -> ListParams:
    """ListParams from the query: each parameter type-checked by Litestar, the names and the
    times' RFC 3339 form checked here (the parser alone would take `0.5` as a timestamp)."""
    given = locals()  # the parameters are ListParams' fields, by name (a unit test checks)
    query = request.query_params
    check_param_names(list(query.keys()), {k: len(query.getall(k)) for k in query})
    check_times({k: query[k] for k in ("created_after", "created_before") if k in query})
    return ListParams(**{name: given[name] for name in ListParams.__struct_fields__})


LIST_PARAMS = {"params": Provide(list_params, sync_to_thread=False)}
