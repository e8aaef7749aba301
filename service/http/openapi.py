"""Constraints the generated OpenAPI document misses, restored so that it says what we enforce."""

from __future__ import annotations

from dataclasses import replace

from litestar import Litestar
from litestar.openapi.spec import (
    Link,
    OpenAPI,
    OpenAPIFormat,
    OpenAPIResponse,
    OpenAPIType,
    Parameter,
    Reference,
    Schema,
)

from service.domain.schemas import (
    LABEL_KEY_MAX_LENGTH,
    LABEL_KEY_PATTERN,
    LABEL_VALUE_MAX_LENGTH,
    MAX_LABELS,
    NAME_MAX_LENGTH,
    OS_MAX_LENGTH,
    VM_TIMES,
)
from service.http.controllers.bulk_wire import refine_batch_openapi
from service.http.controllers.export import refine_export_openapi
from service.http.preconditions import IDEMPOTENCY_KEY_PATTERN

STRICT_BODIES = ("VMCreate", "VMReplace", "VMPatch", "ProjectCreate", "ProjectUpdate")
QUOTAS = ("Quota", "QuotaPatch")


def _labels(nullable_values: bool) -> Schema:
    value = Schema(type=OpenAPIType.STRING, max_length=LABEL_VALUE_MAX_LENGTH)
    return Schema(
        type=OpenAPIType.OBJECT,
        max_properties=MAX_LABELS,
        property_names=Schema(
            type=OpenAPIType.STRING,
            min_length=1,
            max_length=LABEL_KEY_MAX_LENGTH,
            pattern=LABEL_KEY_PATTERN,
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
    """The length and format rules ListVMs, ExportVMs and WatchVMs check on their filters."""
    for path in ("/api/v1/vms", "/api/v1/vms/export", "/api/v1/vms/watch"):
        item = openapi.paths.get(path) if openapi.paths else None
        operation = item.get if item is not None else None
        if operation is not None and operation.parameters:
            _refine_filters(operation.parameters)


def _refine_filters(parameters: list[Parameter | Reference]) -> None:
    rules: dict[str, Schema] = {
        "os": Schema(
            type=OpenAPIType.ARRAY,
            items=Schema(type=OpenAPIType.STRING, min_length=1, max_length=OS_MAX_LENGTH),
        ),
        "name_prefix": Schema(type=OpenAPIType.STRING, min_length=1, max_length=NAME_MAX_LENGTH),
        "ip_address": Schema(
            one_of=[
                Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.IPV4),
                Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.IPV6),
            ]
        ),
    }
    for parameter in parameters:
        name = getattr(parameter, "name", None)
        if name in rules and isinstance(parameter, Parameter):
            parameter.schema = rules[name]


_ETAG = r'(W/)?"[0-9]{1,18}"'
_ETAGS = Schema(
    one_of=[
        Schema(type=OpenAPIType.STRING, enum=["*"]),  # not a pattern: schemathesis 4.32.5 then
        # sends "0" as a "valid" header value
        Schema(type=OpenAPIType.STRING, pattern=rf"^{_ETAG}(, ?{_ETAG})*$"),
    ]
)
HEADER_SCHEMAS = {
    "If-Match": _ETAGS,
    "If-None-Match": _ETAGS,
    "Idempotency-Key": Schema(type=OpenAPIType.STRING, pattern=IDEMPOTENCY_KEY_PATTERN),
}


def _refine_headers(openapi: OpenAPI) -> None:
    """The syntax of the precondition and idempotency headers, as their parsers accept it."""
    for item in (openapi.paths or {}).values():
        for method in ("get", "put", "patch", "post", "delete"):
            operation = getattr(item, method, None)
            for parameter in (operation.parameters or []) if operation else []:
                schema = HEADER_SCHEMAS.get(getattr(parameter, "name", ""))
                if schema and isinstance(parameter, Parameter) and parameter.param_in == "header":
                    parameter.schema = replace(schema, description=parameter.description)


_BY_ID = {"vm_id": "$response.body#/id"}
_BY_ID_AT_REVISION = {**_BY_ID, "header.If-Match": "$response.header.ETag"}
LINKS: dict[tuple[str, str, str], dict[str, dict[str, str]]] = {
    # (path, method, status): {target operation id: parameters}
    ("/api/v1/vms", "post", "201"): {
        "GetVM": _BY_ID, "ReplaceVM": _BY_ID_AT_REVISION, "UpdateVM": _BY_ID_AT_REVISION,
        "DeleteVM": _BY_ID_AT_REVISION, "ListVMEvents": _BY_ID,
    },
    ("/api/v1/vms/{vm_id}", "get", "200"): {
        "ReplaceVM": _BY_ID_AT_REVISION, "UpdateVM": _BY_ID_AT_REVISION,
        "DeleteVM": _BY_ID_AT_REVISION,
    },
    ("/api/v1/vms/{vm_id}", "patch", "200"): {
        "GetVM": _BY_ID, "DeleteVM": _BY_ID_AT_REVISION, "ListVMEvents": _BY_ID,
    },
    ("/api/v1/vms/{vm_id}", "put", "200"): {"GetVM": _BY_ID, "DeleteVM": _BY_ID_AT_REVISION},
}  # fmt: skip


def _add_links(openapi: OpenAPI) -> None:
    """OpenAPI links: the id (and ETag) a response gives is what the next operations take."""
    known = {
        op.operation_id
        for item in (openapi.paths or {}).values()
        for op in (item.get, item.put, item.patch, item.post, item.delete)
        if op is not None
    }
    for (path, method, status), targets in LINKS.items():
        item = (openapi.paths or {}).get(path)
        operation = getattr(item, method, None) if item is not None else None
        response = (operation.responses or {}).get(status) if operation else None
        if isinstance(response, OpenAPIResponse):
            response.links = {
                target: Link(operation_id=target, parameters=dict(parameters))
                for target, parameters in targets.items()
                if target in known
            }


def _no_content_bodies(openapi: OpenAPI) -> None:
    """A 204 or 304 answer has no body (Litestar 2 documents a JSON `null` for some)."""
    for item in (openapi.paths or {}).values():
        for operation in (item.get, item.put, item.patch, item.post, item.delete):
            for status, response in ((operation.responses or {}) if operation else {}).items():
                if status in ("204", "304") and isinstance(response, OpenAPIResponse):
                    response.content = None


def _no_head_operations(openapi: OpenAPI) -> None:
    """HEAD is answered on every GET route (RFC 9110); documenting it would double the SDK."""
    for item in (openapi.paths or {}).values():
        item.head = None


TIMES = {"VM": VM_TIMES, "VMEvent": ("timestamp",)}
"""The fields holding a Timestamp (text in Python, so Litestar leaves out their format)."""


def _times_are_date_time(openapi: OpenAPI) -> None:
    """Every Timestamp is a `date-time` string."""
    schemas = (openapi.components.schemas if openapi.components else None) or {}
    for name, fields in TIMES.items():
        schema = schemas.get(name)
        for field in fields:
            prop = (schema.properties or {}).get(field) if isinstance(schema, Schema) else None
            for text in (prop.one_of or [prop]) if isinstance(prop, Schema) else []:
                if isinstance(text, Schema) and text.type == OpenAPIType.STRING:
                    text.format = OpenAPIFormat.DATE_TIME


def refine(openapi: OpenAPI) -> OpenAPI:
    """Unknown body fields are refused; labels, IP addresses and headers have their real rules."""
    _no_head_operations(openapi)
    _refine_list_parameters(openapi)
    _refine_headers(openapi)
    _add_links(openapi)
    _no_content_bodies(openapi)
    _times_are_date_time(openapi)
    refine_batch_openapi(openapi)
    refine_export_openapi(openapi)
    schemas = openapi.components.schemas if openapi.components else None
    for name in STRICT_BODIES:
        schema = schemas.get(name) if schemas else None
        if not isinstance(schema, Schema) or schema.properties is None:
            continue
        schema.additional_properties = False
        properties = dict(schema.properties)
        if "labels" in properties:
            patch = name == "VMPatch"
            labels = _labels(nullable_values=patch)
            # VMPatch keeps Litestar's oneOf wrapper: the SDK's model names depend on it.
            properties["labels"] = Schema(one_of=[labels]) if patch else labels
        if "ip_address" in properties:
            properties["ip_address"] = _ip_address()
        schema.properties = properties
    for name in QUOTAS:
        if isinstance(schema := (schemas or {}).get(name), Schema) and schema.properties:
            _refine_quota(schema)
    return openapi


def _refine_quota(schema: Schema) -> None:
    """A quota's limits are non-negative (Litestar drops `ge` beside null)."""
    schema.additional_properties = False
    for limit in (schema.properties or {}).values():
        for branch in (limit.one_of or []) if isinstance(limit, Schema) else []:
            if isinstance(branch, Schema) and branch.type == OpenAPIType.INTEGER:
                branch.minimum = 0


def install(app: Litestar) -> Litestar:
    """Refine `app`'s OpenAPI document (built once, before the first request serves it)."""
    refine(app.openapi_schema)
    return app
