"""Query strings: UTF-8, at most MAX_QUERY_PARAMS, and only what the route declares (unknown,
repeated or non-integer parameters get a 400 naming them), after authentication and the rate
limit (a caller without a key gets 401 whatever it asks)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, get_args
from urllib.parse import parse_qsl

from litestar.exceptions import ValidationException
from litestar.handlers import HTTPRouteHandler
from litestar.types import Scope

MAX_QUERY_PARAMS = 64
_INTEGER_RE = re.compile(r"-?(0|[1-9][0-9]*)")  # as JSON writes integers: no +, no leading 0


@dataclass(frozen=True)
class QuerySpec:
    """The query parameters a route handler declares (its dependencies' included)."""

    names: frozenset[str]
    repeatable: frozenset[str]
    integers: frozenset[str]


_SPECS: dict[tuple[int, frozenset[str]], tuple[object, QuerySpec]] = {}


def _takes_int(annotation: Any) -> bool:
    """`int`, `int | None`, `list[int]`, ... (not bool, which Python makes an int)."""
    if annotation is int:
        return True
    return any(_takes_int(arg) for arg in get_args(annotation) if arg is not Ellipsis)


def query_spec(handler: HTTPRouteHandler, path_params: frozenset[str]) -> QuerySpec:
    """What the handler's signature (as Litestar's kwargs model reads it) takes from the query."""
    key = (id(handler), path_params)
    cached = _SPECS.get(key)
    if cached is not None and cached[0] is handler:
        return cached[1]
    only_names: dict[str, Any] = dict.fromkeys(path_params)  # the model reads only the keys
    model = handler.create_kwargs_model(only_names)
    fields = dict(handler.parsed_fn_signature.parameters)
    for provide in handler.resolve_dependencies().values():  # the filters come from `filters`
        fields.update(provide.parsed_fn_signature.parameters)
    names, repeatable, integers = set(), set(), set()
    for param in model.expected_query_params:
        names.add(param.field_alias)
        field = fields.get(param.field_name)
        if param.is_sequence or (field is not None and field.is_non_string_sequence):
            repeatable.add(param.field_alias)
        if field is not None and _takes_int(field.annotation):
            integers.add(param.field_alias)
    spec = QuerySpec(frozenset(names), frozenset(repeatable), frozenset(integers))
    _SPECS[key] = (handler, spec)
    return spec


def bad_query(name: str, message: str) -> ValidationException:
    """A 400 naming the query parameter `name`."""
    return ValidationException(
        detail=f"{name}: {message}", extra=[{"key": name, "message": message}]
    )


def check_query_string(scope: Scope, query: bytes) -> None:
    """400 for a query string that is not UTF-8, has too many parameters, names one the route
    does not take, repeats a scalar one or gives an integer one as anything but digits (its
    length is the pipeline's limit: 414).

    Routes left out of the OpenAPI document get only the first two checks.
    """
    try:
        pairs = parse_qsl(query.decode(), keep_blank_values=True, errors="strict")
    except UnicodeDecodeError:
        raise bad_query("query", "not valid UTF-8 once percent-decoded") from None
    if len(pairs) > MAX_QUERY_PARAMS:
        raise bad_query("query", f"more than {MAX_QUERY_PARAMS} parameters")
    handler = scope.get("route_handler")
    if not isinstance(handler, HTTPRouteHandler) or scope.get("method") == "OPTIONS":
        return  # OPTIONS answers for the path; a CORS preflight carries the real request's query
    if not handler.resolve_include_in_schema():
        return  # the documented contract only: /schema serves browsers, /metrics Prometheus
    spec = query_spec(handler, frozenset(scope.get("path_params") or ()))
    seen: set[str] = set()
    for name, value in pairs:
        if name not in spec.names:
            known = ", ".join(sorted(spec.names)) or "none"
            raise bad_query(name, f"unknown query parameter (known: {known})")
        if name in seen and name not in spec.repeatable:
            raise bad_query(name, "given more than once; it takes a single value")
        if name in spec.integers and not _INTEGER_RE.fullmatch(value):
            raise bad_query(name, f"{value!r} is not an integer such as 10 (decimal digits)")
        seen.add(name)
