"""A validated ListVMs query (ListQuery): the MongoDB filter, the order, where the page starts."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import msgspec

from service.domain.listing.filters import build_filter
from service.domain.listing.params import SORT_FIELDS, ListParams
from service.domain.listing.tokens import Cursor, PageTokens


@dataclass(frozen=True)
class ListQuery:
    """A validated ListVMs query: the MongoDB filter, the order, and where the page starts."""

    filter: dict[str, Any]
    sort_field: str
    descending: bool
    limit: int
    after: Cursor | None
    binding: str


def compile_query(params: ListParams, tokens: PageTokens) -> ListQuery:
    """Validate `params` and turn them into a ListQuery (filter, order, start, binding)."""
    query = build_filter(params)
    sort = params.sort.value
    field = SORT_FIELDS[sort.removeprefix("-")]
    digest = hashlib.sha256(msgspec.json.encode([sort, query], order="deterministic"))
    binding = digest.hexdigest()[:32]
    after = tokens.decode(params.page_token, binding, field) if params.page_token else None
    return ListQuery(query, field, sort.startswith("-"), params.page_size, after, binding)
