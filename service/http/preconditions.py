"""Conditional requests and write metadata: ETag, If-Match / If-None-Match, the write context."""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Any, Final

from litestar import Request
from litestar.datastructures import ResponseHeader
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import HeaderParameter

from service.domain.errors import PreconditionRequired, invalid
from service.domain.events import WriteContext
from service.domain.projects import Project
from service.domain.revisions import IfMatch as Revisions
from service.domain.schemas import VM
from service.http.middleware.auth import access_of, caller_name

ANY: Final = "*"
_ETAG_RE = re.compile(r'\s*(W/)?"([\x21\x23-\x7e\x80-\xff]*)"\s*(?:,|$)')
_REVISION_RE = re.compile(r"[1-9][0-9]{0,17}")  # exactly what etag() writes: "01" is not "1"
_MAX_REQUEST_ID = 128

IfMatch = Annotated[
    str | None,
    HeaderParameter(
        name="If-Match",
        description='the ETag you read ("3"), a list of them, or * (any revision); '
        "a mismatch is 412, and with REQUIRE_IF_MATCH a missing one is 428",
    ),
]
IfNoneMatch = Annotated[
    str | None,
    HeaderParameter(name="If-None-Match", description="304 without a body while the ETag matches"),
]
# Visible ASCII but `"`, bare or as a structured-field string ("key"), as the IETF draft sends it.
IDEMPOTENCY_KEY_PATTERN = r'^([!#-~]{1,255}|"[!#-~]{1,255}")$'
IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(
        name="Idempotency-Key",
        description='1-255 visible ASCII characters but `"` (or those in double quotes); a retry '
        "with the same key and request replays the first response (Idempotent-Replayed: true) "
        "for 24 hours",
        pattern=IDEMPOTENCY_KEY_PATTERN,
    ),
]
# documentation_only: the handlers set these; `value` only gives the OpenAPI schema (a string)
ETAG_HEADER = ResponseHeader(
    name="ETag",
    documentation_only=True,
    value='"3"',
    description='the revision as a strong ETag: "3"',
)
REPLAYED_HEADER = ResponseHeader(
    name="Idempotent-Replayed",
    documentation_only=True,
    value="true",
    description="true when this is the stored response to an earlier request with the same key",
)
NOT_MODIFIED = {304: ResponseSpec(data_container=None, description="Not modified")}


def etag(item: VM | Project) -> dict[str, str]:
    """The strong validator of a VM or project: its revision."""
    return {"ETag": f'"{item.revision}"'}


def parse_etags(header: str, name: str) -> tuple[frozenset[int], frozenset[int]] | str:
    """`*`, or the (strong, weak) revisions an If-Match / If-None-Match list names.

    Tags that are no revision of ours (`"abc"`) match nothing; bad syntax is a 400 naming the
    header.
    """
    value = header.strip()
    if value == ANY:
        return ANY
    strong: set[int] = set()
    weak: set[int] = set()
    pos = 0
    while pos < len(value):
        match = _ETAG_RE.match(value, pos)
        if match is None or match.end() == pos:
            message = 'expected "*" or a list of entity tags such as "3"'
            raise invalid(name, message)
        tag = match.group(2)
        if _REVISION_RE.fullmatch(tag):
            (weak if match.group(1) else strong).add(int(tag))
        pos = match.end()
    if not strong and not weak and pos == 0:
        message = "must not be empty"
        raise invalid(name, message)
    return frozenset(strong), frozenset(weak)


def if_match(header: str | None, required: bool) -> Revisions:
    """The revisions a PUT/PATCH/DELETE accepts (None: any); 428 when required and absent.

    If-Match compares strongly: a weak tag never matches.
    """
    if header is None:
        if required:
            raise PreconditionRequired(
                'this server requires If-Match on writes: send the ETag you read, or "*"'
            )
        return None
    parsed = parse_etags(header, "If-Match")
    return None if isinstance(parsed, str) else parsed[0]


def not_modified(header: str | None, revision: int) -> bool:
    """True when If-None-Match names `revision` (weak comparison) or is `*`."""
    if header is None:
        return False
    parsed = parse_etags(header, "If-None-Match")
    return isinstance(parsed, str) or revision in parsed[0] or revision in parsed[1]


def write_context(request: Request[Any, Any, Any]) -> WriteContext:
    """Who writes (the API key's name, else anonymous) and the request id to record."""
    actor = caller_name(request.scope) or "anonymous"
    request_id = (
        request.scope.get("request_id") or request.headers.get("x-request-id") or uuid.uuid4().hex
    )
    return WriteContext(
        actor=str(actor),
        request_id=str(request_id)[:_MAX_REQUEST_ID],
        access=access_of(request.scope),
    )
