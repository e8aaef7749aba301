"""Constraints the generated OpenAPI document misses, restored so that it says what we enforce."""

from __future__ import annotations

from litestar import Litestar
from litestar.openapi.spec import OpenAPI, OpenAPIFormat, OpenAPIType, Parameter, Schema

from service.schemas import LABEL_KEY_PATTERN, MAX_LABELS

STRICT_BODIES = ("VMCreate", "VMReplace", "VMPatch")


def _labels(nullable_values: bool) -> Schema:
    value = Schema(type=OpenAPIType.STRING, max_length=63)
    return Schema(
        type=OpenAPIType.OBJECT,
        max_properties=MAX_LABELS,
        property_names=Schema(
            type=OpenAPIType.STRING, min_length=1, max_length=63, pattern=LABEL_KEY_PATTERN
        ),
        additional_properties=(
            Schema(one_of=[value, Schema(type=OpenAPIType.NULL)]) if nullable_values else value
        ),
        description="label key -> value" + ("; null removes the label" if nullable_values else ""),
    )


def _ip_address() -> Schema:
    return Schema(
        one_of=[
            Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.IPV4),
            Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.IPV6),
            Schema(type=OpenAPIType.NULL),
        ],
        description="IPv4 or IPv6 (no zone id), returned in canonical form; null for none",
        examples=["10.0.0.5"],
    )


def _refine_list_parameters(openapi: OpenAPI) -> None:
    """The length and format rules ListVMs checks on its query parameters."""
    item = openapi.paths.get("/api/v1/vms") if openapi.paths else None
    operation = item.get if item is not None else None
    if operation is None or not operation.parameters:
        return
    rules: dict[str, Schema] = {
        "os": Schema(
            type=OpenAPIType.ARRAY,
            items=Schema(type=OpenAPIType.STRING, min_length=1, max_length=64),
        ),
        "name_prefix": Schema(type=OpenAPIType.STRING, min_length=1, max_length=63),
        "ip_address": Schema(
            one_of=[
                Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.IPV4),
                Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.IPV6),
            ]
        ),
    }
    for parameter in operation.parameters:
        name = getattr(parameter, "name", None)
        if name in rules and isinstance(parameter, Parameter):
            parameter.schema = rules[name]


def refine(openapi: OpenAPI) -> OpenAPI:
    """Unknown body fields are refused; label keys and IP addresses have their real rules."""
    _refine_list_parameters(openapi)
    schemas = openapi.components.schemas if openapi.components else None
    for name in STRICT_BODIES:
        schema = schemas.get(name) if schemas else None
        if not isinstance(schema, Schema) or schema.properties is None:
            continue
        schema.additional_properties = False
        properties = dict(schema.properties)
        if "labels" in properties:
            properties["labels"] = _labels(nullable_values=name == "VMPatch")
        if "ip_address" in properties:
            properties["ip_address"] = _ip_address()
        schema.properties = properties
    return openapi


def install(app: Litestar) -> Litestar:
    """Refine `app`'s OpenAPI document (built once, before the first request serves it)."""
    refine(app.openapi_schema)
    return app
