"""ExportVMs: every VM matching ListVMs' filters, streamed as NDJSON or CSV from one snapshot."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncGenerator
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request
from litestar.background_tasks import BackgroundTask
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import OpenAPI, OpenAPIMediaType, OpenAPIResponse, OpenAPIType, Schema
from litestar.params import Parameter
from litestar.response import Stream

from service.config import Settings
from service.domain.bulk import BulkService
from service.domain.errors import Forbidden, NotAcceptable, TooManyStreams
from service.domain.listing import SortOrder
from service.domain.schemas import VM
from service.http.controllers.filter_params import FILTERS, Filters
from service.http.head import get_and_head
from service.http.middleware.auth import access_of, caller_name
from service.http.problems import responses
from service.http.protocol import connection_of, taken_within
from service.http.stream_keys import StreamKeys

Bulk = NamedDependency[BulkService]
Req = Request[Any, Any, Any]
NDJSON = "application/x-ndjson"
CSV = "text/csv"
CSV_COLUMNS = (
    "id", "name", "project", "status", "os", "cpu_cores", "memory_mib", "storage_gib", "ip_address",
    "labels", "description", "revision", "created_at", "updated_at",
)  # fmt: skip


def wants_csv(accept: str | None) -> bool:
    """CSV when Accept asks for text/csv over NDJSON; NDJSON when absent or any; else 406."""
    if not accept:
        return False
    ranked: list[tuple[float, str]] = []
    for part in accept.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        quality = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        ranked.append((quality, media.lower()))
    best = {NDJSON: 0.0, CSV: 0.0}
    for quality, media in ranked:
        for kind in best:
            if media in (kind, "*/*", kind.split("/")[0] + "/*"):
                best[kind] = max(best[kind], quality)
    if best[CSV] <= 0 and best[NDJSON] <= 0:
        raise NotAcceptable(f"ExportVMs answers {NDJSON} or {CSV}, not {accept!r}")
    return best[CSV] > best[NDJSON]


def _labels_cell(labels: dict[str, str]) -> str:
    """Labels as `k=v;k=v`; `%` and `;` in values are percent-encoded (keys have neither)."""
    return ";".join(
        f"{k}={v.replace('%', '%25').replace(';', '%3B')}" for k, v in sorted(labels.items())
    )


# A spreadsheet takes a cell starting with one of these as a formula (OWASP "CSV injection");
# `'` too, so that stripping one leading `'` from a text cell always gives its value back.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "'")


def text_cell(value: str) -> str:
    """A text cell a spreadsheet shows as text: `'` before a formula trigger (OWASP)."""
    return "'" + value if value.startswith(FORMULA_TRIGGERS) else value


def csv_rows(vms: list[VM], header: bool) -> bytes:
    """VMs as CSV rows (RFC 4180, CRLF), with the header row first when asked; text cells
    starting with a formula trigger get a leading `'` (numbers and timestamps never do)."""
    out = io.StringIO()
    writer = csv.writer(out)
    if header:
        writer.writerow(CSV_COLUMNS)
    for vm in vms:
        writer.writerow(
            (
                text_cell(vm.id), text_cell(vm.name), vm.project, vm.status.value,
                text_cell(vm.os),
                vm.cpu_cores, vm.memory_mib, vm.storage_gib, text_cell(vm.ip_address or ""),
                text_cell(_labels_cell(vm.labels)), text_cell(vm.description),
                vm.revision, vm.created_at, vm.updated_at,
            )
        )  # fmt: skip
    return out.getvalue().encode()


_ENCODER = msgspec.json.Encoder()


def ndjson_lines(vms: list[VM]) -> bytes:
    """VMs as newline-delimited JSON, one VM (as GetVM answers it) per line."""
    buffer = bytearray()
    for vm in vms:
        _ENCODER.encode_into(vm, buffer, len(buffer))
        buffer += b"\n"
    return bytes(buffer)


class ExportController(Controller):
    """GET /api/v1/vms/export."""

    path = "/api/v1/vms"
    tags = ["vms"]
    security = [{"ApiKey": []}]

    @get_and_head(
        "/export",
        operation_id="ExportVMs",
        summary="Every VM matching ListVMs' filters, streamed as NDJSON or CSV",
        responses=responses(NotAcceptable, TooManyStreams, Forbidden)
        | {
            200: ResponseSpec(
                data_container=VM,
                description="one VM per line (NDJSON), or CSV with labels as `k=v;k=v`",
                media_type=NDJSON,
                generate_examples=False,
            )
        },
        dependencies=FILTERS,
    )
    async def export_vms(
        self,
        request: Req,
        bulk_service: Bulk,
        stream_keys: NamedDependency[StreamKeys],
        settings: NamedDependency[Settings],
        filters: Filters,
        sort: Annotated[SortOrder, Parameter(description="as ListVMs")] = SortOrder.CREATED_AT_DESC,
    ) -> Stream:
        """The filters, sort and rules of ListVMs; one snapshot, streamed in constant memory."""
        as_csv = wants_csv(request.headers.get("accept"))
        params = msgspec.structs.replace(filters, sort=sort)
        key, access = caller_name(request.scope) or "", access_of(request.scope)
        batches = bulk_service.export(params, key, access)
        # The first batch before the answer starts: a bad filter or MongoDB down is still a
        # problem+json; later failures can only cut the stream short.
        first: list[VM] = await anext(batches, [])
        if request.method == "HEAD":  # GET's status and headers, without reading every VM
            await batches.aclose()
            first = []

        async def body() -> AsyncGenerator[bytes]:
            try:
                yield csv_rows(first, header=True) if as_csv else ndjson_lines(first)
                async for batch in batches:
                    yield csv_rows(batch, header=False) if as_csv else ndjson_lines(batch)
            finally:
                await batches.aclose()

        media_type = CSV if as_csv else NDJSON  # Litestar adds `; charset=utf-8` to text/*
        stream = body()
        # The key re-checked and each chunk taken in time, or the stream ends (issue 20).
        guarded = stream_keys.guard(
            request,
            taken_within(
                stream, settings.export_send_timeout_seconds, connection_of(request.scope)
            ),
        )

        async def close() -> None:  # after the response, even when the client went away
            await guarded.aclose()
            await stream.aclose()
            await batches.aclose()  # (when `stream` never started)

        return Stream(guarded, media_type=media_type, background=BackgroundTask(close))


def refine_export_openapi(openapi: OpenAPI) -> None:
    """ExportVMs answers NDJSON or CSV text (one 200 with both media types)."""
    item = (openapi.paths or {}).get("/api/v1/vms/export")
    answer = (item.get.responses or {}).get("200") if item and item.get else None
    if isinstance(answer, OpenAPIResponse):
        text = "one VM per line, as GetVM answers it"
        answer.content = {
            NDJSON: OpenAPIMediaType(schema=Schema(type=OpenAPIType.STRING, description=text)),
            CSV: OpenAPIMediaType(
                schema=Schema(type=OpenAPIType.STRING, description="RFC 4180 with a header row")
            ),
        }
