"""Request bodies: the strict JSON decode of a handler's `data` (media type, nesting bound,
integral floats as integers, size) and the field-level 400 naming every field at fault."""

from __future__ import annotations

import re
from typing import Any, TypeVar

import msgspec
from litestar import Request
from litestar.exceptions.http_exceptions import RequestEntityTooLarge
from litestar.types import Empty

from service.domain.errors import (
    FieldError,
    UnsupportedMediaType,
    ValidationFailed,
    invalid,
    invalid_fields,
)
from service.http.body_errors import every_error

T = TypeVar("T")
MAX_BODY_BYTES = 1024 * 1024
MAX_BODY_DEPTH = 32  # our bodies nest 2 levels (labels); msgspec and integral walk recursively
JSON_TYPES = frozenset({"application/json"})
PATCH_TYPES = frozenset({"application/json", "application/merge-patch+json"})
_PATH_RE = re.compile(r"`\$\.?([A-Za-z0-9_]*(?:\[[0-9]+\](?:\.[A-Za-z0-9_]+)*)?)")
_NAMED_RE = re.compile(r"(?:unknown|missing required) field `([^`]*)`")
_JSON_STRING_RE = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_DEPTH_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


def field_errors(exc: msgspec.ValidationError) -> ValidationFailed:
    """Name the field in msgspec's message (`Expected int, got str - at $.cpu_cores`)."""
    message, _, where = str(exc).partition(" - at ")
    path = _PATH_RE.search(where)
    field = path.group(1) if path else ""
    if named := _NAMED_RE.search(message):
        field = f"{field}.{named.group(1)}" if field else named.group(1)
        message = message.replace("`", "'")
    if where.startswith("`key`"):
        message = f"invalid key: {message}"
    field = field or "body"
    return invalid(field, message)


def _check_depth(body: bytes) -> None:
    """400 for a body whose arrays and objects nest deeper than MAX_BODY_DEPTH.

    Runs before any decode: a recursive walk over deeper input ends in RecursionError (a 500).
    """
    if body.count(b"[") + body.count(b"{") <= MAX_BODY_DEPTH:
        return  # every body we accept
    brackets = _JSON_STRING_RE.sub(b"", body).translate(None, _NOT_BRACKETS)
    depth = 0
    for char in brackets:
        depth += _DEPTH_STEP[char]
        if depth > MAX_BODY_DEPTH:
            message = f"arrays and objects nest more than {MAX_BODY_DEPTH} levels deep"
            raise invalid("body", message)


def integral(value: Any) -> Any:
    """`value` with every integral float (`2.0`) made an int (nesting is bounded before)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: integral(v) for k, v in value.items()}
    if isinstance(value, list):
        return [integral(v) for v in value]
    return value


def convert_strictly(
    document: Any, target: type[T], refused: msgspec.ValidationError | None = None
) -> T:
    """`document` (decoded JSON) as `target`, without coercion but for `2.0` as the integer 2
    (JSON does not tell 2.0 from 2); the 400 names every field at fault.

    `refused`: msgspec's error for this document already (the typed decode's).
    """
    if refused is None:
        try:
            return msgspec.convert(document, target, strict=True)
        except msgspec.ValidationError as exc:
            refused = exc
    if "got `float`" in str(refused):
        try:
            return msgspec.convert(integral(document), target, strict=True)
        except msgspec.ValidationError as again:
            refused = again
    errors = every_error(document, target)  # the failure path alone pays for this
    raise (invalid_fields(errors) if errors else field_errors(refused)) from None


def _malformed(exc: Exception) -> ValidationFailed:
    if isinstance(exc, UnicodeDecodeError):  # msgspec checks UTF-8 inside strings only
        return ValidationFailed(
            "malformed JSON: not valid UTF-8", [FieldError("body", "not valid UTF-8")]
        )
    return ValidationFailed(f"malformed JSON: {exc}", [FieldError("body", str(exc))])


def decode_strictly(body: bytes, target: type[T]) -> T:
    """Decode a JSON body straight into `target` (see convert_strictly); malformed JSON is a
    400 naming `body`."""
    try:
        return msgspec.json.decode(body, type=target)
    except msgspec.ValidationError as exc:
        refused = exc
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise _malformed(exc) from None
    try:  # typed decoding may stop before the JSON itself goes wrong
        document = msgspec.json.decode(body)
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        raise _malformed(exc) from None
    return convert_strictly(document, target, refused)


class StrictRequest(Request[Any, Any, Any]):
    """A request whose JSON body is decoded strictly (no coercion) into the handler's body type."""

    async def body(self) -> bytes:
        """The raw body; 400 when a route that takes one gets none (Litestar would say 'data'),
        413 naming the limit when it is larger than MAX_BODY_BYTES."""
        try:
            body = await super().body()
        except RequestEntityTooLarge:
            raise RequestEntityTooLarge(
                detail=f"the request body exceeds the limit of {MAX_BODY_BYTES} bytes"
            ) from None
        if not body and "data" in self.route_handler.parsed_fn_signature.parameters:
            message = "a JSON object is required"
            raise invalid("body", message)
        return body

    async def json(self) -> Any:
        """Check the media type, then decode straight into the declared `data` type."""
        if self._json is Empty:
            media_type = self.headers.get("content-type", "").split(";")[0].strip().lower()
            allowed = PATCH_TYPES if self.method == "PATCH" else JSON_TYPES
            if media_type not in allowed:
                raise UnsupportedMediaType(
                    f"Content-Type must be one of {sorted(allowed)}, not {media_type or 'none'!r}"
                )
            field = self.route_handler.parsed_fn_signature.parameters.get("data")
            target: Any = field.annotation if field is not None else Any
            body = await self.body()
            _check_depth(body)
            self._json = decode_strictly(body, target)
        return self._json
