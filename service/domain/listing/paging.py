"""Keyset paging for ListVMs: the finds that make one page, and the token for the next one
(ties on the sort key broken by id)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from service.domain.listing.keys import sort_value
from service.domain.listing.query import ListQuery
from service.domain.listing.tokens import PageTokens
from service.domain.schemas import VM

Raw = dict[str, Any]
Sort = list[tuple[str, int]]


def page_queries(query: ListQuery, to_id: Callable[[str], Any]) -> list[tuple[Raw, Sort]]:
    """The finds that make one page: after a token, the rest of the tie group (when the previous
    page saw one continue), then the VMs beyond it.

    Each is a plain conjunction with one sort, so MongoDB bounds the scan on the compound index
    (filter field, sort key, _id) exactly; a single `$or` keyset loses those bounds once a
    filter has several values. `to_id` turns the cursor's id into storage's id type.
    """
    direction = -1 if query.descending else 1
    sort = [(query.sort_field, direction), ("_id", direction)]
    if query.after is None:
        return [(query.filter, sort)]
    cursor = query.after
    beyond = "$lt" if query.descending else "$gt"
    rest = (_and(query.filter, {query.sort_field: {beyond: cursor.value}}), sort)
    if not cursor.ties:
        return [rest]
    tie = {query.sort_field: cursor.value, "_id": {beyond: to_id(cursor.id)}}
    return [(_and(query.filter, tie), sort), rest]


def _and(base: Raw, extra: Raw) -> Raw:
    return {"$and": [base, extra]} if base else extra


def one_more(query: ListQuery) -> ListQuery:
    """The query asking for one VM beyond the page: it tells whether a next page exists."""
    return replace(query, limit=query.limit + 1)


def next_page(
    items: Sequence[VM], query: ListQuery, tokens: PageTokens
) -> tuple[list[VM], str | None]:
    """The page out of what `one_more(query)` found, and the token for the page after it."""
    if len(items) <= query.limit:
        return list(items), None
    last, following = items[query.limit - 1], items[query.limit]
    value = sort_value(last, query.sort_field)
    # A VM that joins the tie group later was created or changed during the walk.
    ties = sort_value(following, query.sort_field) == value
    return list(items[: query.limit]), tokens.encode(query.binding, value, last.id, ties)
