"""ListVMs' query parameters (its `params` dependency): the shared filters, sort and paging."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar.di import Provide
from litestar.params import Parameter

from service.domain.listing import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, ListParams, SortOrder
from service.domain.schemas import TOTAL_EXACT_MAX
from service.http.controllers.filter_params import FILTERS, Filters


def list_params(
    filters: Filters,
    sort: Annotated[
        SortOrder, Parameter(description="`-` for descending; ties broken by id")
    ] = SortOrder.CREATED_AT_DESC,
    page_size: Annotated[int, Parameter(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
    page_token: Annotated[
        str | None,
        Parameter(description="next_page_token of the previous page, with the same filters"),
    ] = None,
    include_total: Annotated[
        bool,
        Parameter(
            description="add total_size, the count under the same filters: exact up to "
            f"{TOTAL_EXACT_MAX:,}, past that a lower bound (total_size_exact false)"
        ),
    ] = False,
    show_deleted: Annotated[
        bool,
        Parameter(description="include deleted VMs (restorable until their purge_at)"),
    ] = False,
) -> ListParams:
    """ListParams from the query: the filters, then sort and paging."""
    return msgspec.structs.replace(
        filters,
        sort=sort,
        page_size=page_size,
        page_token=page_token,
        include_total=include_total,
        show_deleted=show_deleted,
    )


LIST_PARAMS = {**FILTERS, "params": Provide(list_params, sync_to_thread=False)}
