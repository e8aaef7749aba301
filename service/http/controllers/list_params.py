"""ListVMs' query parameters (its `params` dependency): the shared filters, sort and paging."""

from __future__ import annotations

from typing import Annotated

from litestar.di import Provide
from litestar.params import Parameter

from service.domain.listing import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    ListParams,
    SortOrder,
    check_param_names,
)
from service.http.controllers.filter_params import (
    CreatedAfter,
    CreatedBefore,
    IPAddress,
    IPIn,
    Labels,
    Max,
    Min,
    NamePrefix,
    OSNames,
    Statuses,
    check_query,
    list_params_of,
)
from service.http.controllers.params import Req


def list_params(
    request: Req,
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
    check_query(request, check_param_names)
    return list_params_of(given, ListParams.__struct_fields__)


LIST_PARAMS = {"params": Provide(list_params, sync_to_thread=False)}
