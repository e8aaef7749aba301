"""ListVMs' listing: the query model (params), its checks (validation), the MongoDB filter
(filters), the compiled query (query), search keys (keys), page tokens (tokens) and keyset
paging (paging). This module only re-exports what the other layers use."""

from service.domain.listing.filters import LIVE, build_filter, next_code_point, prefix_successor
from service.domain.listing.keys import ip_key, search_keys, sort_value
from service.domain.listing.params import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    MAX_RANGE,
    QUERY_PARAMS,
    ListParams,
    SortOrder,
)
from service.domain.listing.query import ListQuery, compile_query
from service.domain.listing.tokens import Cursor, PageTokens
from service.domain.listing.validation import check_projects, check_times

__all__ = [
    "DEFAULT_PAGE_SIZE", "LIVE", "MAX_PAGE_SIZE", "MAX_RANGE", "QUERY_PARAMS", "Cursor",
    "ListParams", "ListQuery", "PageTokens", "SortOrder", "build_filter", "check_projects",
    "check_times", "compile_query", "ip_key", "next_code_point", "prefix_successor",
    "search_keys", "sort_value",
]  # fmt: skip
