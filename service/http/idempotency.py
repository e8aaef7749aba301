"""Idempotency-Key over HTTP: parse the header, fingerprint the request, store and replay
responses through the domain's IdempotencyService."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import msgspec
from litestar import Request, Response

from service.domain.errors import (
    DomainError,
    IdempotencyKeyInFlight,
    IdempotencyKeyReused,
    ValidationFailed,
    WriteContention,
    invalid,
)
from service.domain.idempotency import (
    HEADER,
    MAX_KEY_LENGTH,
    REPLAYED_HEADER,
    IdempotencyService,
    StoredResponse,
)
from service.http.problems import domain_problem, status_of

_REPLAYED_HEADERS = ("content-type", "location", "etag")
_NOT_STORED = (ValidationFailed, WriteContention, IdempotencyKeyInFlight)
T = TypeVar("T")


def parse_key(header: str) -> str:
    """The key: 1-255 visible ASCII characters, bare or as a quoted structured-field string."""
    key = header.strip()
    if len(key) >= 2 and key[0] == key[-1] == '"':
        key = key[1:-1]
    if not 1 <= len(key) <= MAX_KEY_LENGTH or not all(" " <= c <= "~" for c in key):
        raise invalid(HEADER, f"must be 1 to {MAX_KEY_LENGTH} visible ASCII characters")
    return key


def fingerprint(request: Request[Any, Any, Any], body: Any) -> str:
    """A digest of what makes two requests the same: method, path, query, If-Match and body."""
    digest = hashlib.sha256()
    query = sorted(request.query_params.multi_items())
    for part in (
        request.method,
        request.url.path.rstrip("/"),
        msgspec.json.encode(query),
        request.headers.get("if-match", ""),
    ):
        digest.update(part.encode() if isinstance(part, str) else part)
        digest.update(b"\0")
    digest.update(msgspec.json.encode(msgspec.to_builtins(body), order="sorted"))
    return digest.hexdigest()


def _stored(response: Response[Any]) -> StoredResponse:
    content = response.content
    body = content if isinstance(content, bytes) else msgspec.json.encode(content)
    headers = {k.lower(): str(v) for k, v in response.headers.items()}
    headers["content-type"] = str(response.media_type or "application/json")
    kept = {k: v for k, v in headers.items() if k in _REPLAYED_HEADERS}
    return StoredResponse(status=response.status_code or 200, body=body, headers=kept)


async def idempotent(
    request: Request[Any, Any, Any],
    header: str | None,
    service: IdempotencyService,
    scope: str,
    body: Any,
    write: Callable[[], Awaitable[T]],
    render: Callable[[T], Response[Any]],
    in_transaction: bool = True,
) -> Response[Any]:
    """Answer `render(await write())` under the Idempotency-Key `header` (if any); replay a
    retry's response. The repository stores `render` of what it commits in the same transaction
    (unless not `in_transaction`, for a request of several writes: stored after the last one).
    """
    if header is None:
        return render(await write())
    key = parse_key(header)
    first: list[Response[Any]] = []

    async def operation() -> StoredResponse:
        try:
            response = render(await write())
        except DomainError as exc:
            if isinstance(exc, _NOT_STORED) or status_of(type(exc)) >= 500:
                raise
            response = domain_problem(exc).to_response(request)
        first.append(response)
        return _stored(response)

    def stored_render(result: Any) -> StoredResponse:
        return _stored(render(result))

    stored, replayed = await service.run(
        scope, key, fingerprint(request, body), operation, stored_render if in_transaction else None
    )
    if not replayed:
        return first[0]
    headers = {k: v for k, v in stored.headers.items() if k != "content-type"}
    return Response(
        stored.body,
        status_code=stored.status,
        media_type=stored.headers.get("content-type", "application/json"),
        headers={**headers, REPLAYED_HEADER: "true"},
    )


IDEMPOTENCY_ERRORS = (IdempotencyKeyReused, IdempotencyKeyInFlight)
