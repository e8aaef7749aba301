"""Every error of a request body at once, for the 400 of a body msgspec refused.

msgspec stops at the first error; only then (the failure path pays, never a valid request) is
the decoded document checked against the JSON Schema msgspec gives the target type (the one
OpenAPI shows) with `jsonschema`, and a VM body against the rules beyond it (domain.rules).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from typing import Any

import jsonschema
import msgspec
from jsonschema.exceptions import ValidationError

from service.domain.errors import FieldError
from service.domain.rules import rule_errors
from service.domain.schemas import VMCreate, VMPatch, VMReplace

RULED_BODIES: frozenset[Any] = frozenset({VMCreate, VMReplace, VMPatch})
_JSON_TYPES = {
    dict: "object", list: "array", str: "string", bool: "boolean", int: "integer",
    float: "number", type(None): "null",
}  # fmt: skip
_TOP_FIELD = re.compile(r"[^.\[]*")


@functools.cache
def _validator(target: Any) -> jsonschema.protocols.Validator:
    schema = msgspec.json.schema(target)
    validator: jsonschema.protocols.Validator = jsonschema.Draft202012Validator(schema)
    return validator


def field_name(path: Iterable[str | int]) -> str:
    """`operations[5].name` for the path ("operations", 5, "name"); `body` for the body."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "body"


def _json_type(value: Any) -> str:
    return _JSON_TYPES.get(type(value), type(value).__name__)


def _bound(error: ValidationError) -> Any:
    """The failed keyword's value in the schema (`1` of minimum: 1)."""
    return error.validator_value


def _message(error: ValidationError) -> str:
    """What is wrong, naming the bound or the allowed values, never echoing the value."""
    bound = _bound(error)
    messages = {
        "type": lambda: (
            f"expected {' or '.join(bound) if isinstance(bound, list) else bound}, "
            f"got {_json_type(error.instance)}"
        ),
        "enum": lambda: f"must be one of {bound}",
        "const": lambda: f"must be {bound!r}",
        "minimum": lambda: f"must be >= {bound}",
        "maximum": lambda: f"must be <= {bound}",
        "exclusiveMinimum": lambda: f"must be > {bound}",
        "exclusiveMaximum": lambda: f"must be < {bound}",
        "minLength": lambda: f"must have at least {bound} characters",
        "maxLength": lambda: f"must have at most {bound} characters",
        "minItems": lambda: f"must have at least {bound} items",
        "maxItems": lambda: f"must have at most {bound} items",
        "maxProperties": lambda: f"must have at most {bound} entries",
        "pattern": lambda: f"does not match {bound}",
    }
    render = messages.get(str(error.validator))
    return render() if render else error.message[:200]


def _branch_errors(error: ValidationError) -> list[FieldError]:
    """The errors of an anyOf/oneOf: those of the branches of the value's kind (its JSON type,
    its tag), else one error naming the kinds (or tags) allowed."""
    schema: Any = error.schema
    instance: Any = error.instance
    tag = (schema.get("discriminator") or {}).get("propertyName")
    depth = len(error.absolute_path)
    branches: dict[Any, list[ValidationError]] = {}
    for sub in error.context or []:
        branches.setdefault(sub.relative_schema_path[0], []).append(sub)

    def wrong_kind(sub: ValidationError) -> bool:
        rest = list(sub.absolute_path)[depth:]
        tagged = tag is not None and rest == [tag] and sub.validator in ("enum", "const")
        return (not rest and sub.validator in ("type", "enum", "const")) or tagged

    fitting = [subs for subs in branches.values() if not any(map(wrong_kind, subs))]
    if fitting:
        return _errors(fitting[0])
    path = list(error.absolute_path)
    if tag is not None and isinstance(instance, dict):
        tags = sorted(
            str(_bound(sub)[0] if sub.validator == "enum" else _bound(sub))
            for sub in error.context or []
            if list(sub.absolute_path)[depth:] == [tag] and sub.validator in ("enum", "const")
        )
        if tag not in instance:
            return [FieldError(field_name([*path, tag]), "missing required field")]
        return [FieldError(field_name([*path, tag]), f"must be one of {tags}")]
    kinds = [_bound(s) for subs in branches.values() for s in subs if s.validator == "type"]
    expected = " or ".join(dict.fromkeys(str(k) for k in kinds)) or "another kind of value"
    return [FieldError(field_name(path), f"expected {expected}, got {_json_type(instance)}")]


def _errors(errors: Iterable[ValidationError]) -> list[FieldError]:
    out: list[FieldError] = []
    for error in errors:
        path = list(error.absolute_path)
        instance: Any = error.instance
        schema: Any = error.schema
        if error.validator in ("anyOf", "oneOf") and error.context:
            out += _branch_errors(error)
        elif error.validator == "required":
            missing = [n for n in _bound(error) if n not in instance]
            out += [FieldError(field_name([*path, n]), "missing required field") for n in missing]
        elif error.validator == "additionalProperties" and _bound(error) is False:
            known = schema.get("properties", {})
            extra = [k for k in instance if k not in known]
            out += [FieldError(field_name([*path, k]), "unknown field") for k in extra]
        elif "propertyNames" in error.absolute_schema_path:
            out.append(FieldError(field_name([*path, str(instance)]), _message(error)))
        else:
            out.append(FieldError(field_name(path), _message(error)))
    return out


def _top(field: str) -> str:
    match = _TOP_FIELD.match(field)
    return match.group(0) if match else field


def every_error(document: Any, target: Any) -> list[FieldError]:
    """Every field of `document` at fault as a `target`: the schema's errors, then (for a VM
    body) the rules' errors on the fields the schema took. Empty when neither finds one."""
    errors = _errors(_validator(target).iter_errors(document))
    if target in RULED_BODIES and isinstance(document, dict):
        at_fault = {_top(e.field) for e in errors}
        errors += [e for e in rule_errors(document) if _top(e.field) not in at_fault]
    return _unique(errors)


def _unique(errors: Sequence[FieldError]) -> list[FieldError]:
    seen: set[tuple[str, str]] = set()
    out = []
    for error in errors:
        if (error.field, error.message) not in seen:
            seen.add((error.field, error.message))
            out.append(error)
    return out
