"""HTTP for the bulk routes: BatchVMs, UpsertVM (by name) and ExportVMs (NDJSON or CSV)."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any, TypeVar

import msgspec
from litestar import Controller, Request, Response, post, put
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import (
    Discriminator,
    OpenAPI,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Reference,
    Schema,
)
from litestar.params import HeaderParameter, JSONBody, Parameter
from litestar.response import Stream
from litestar.status_codes import HTTP_201_CREATED

from service.bulk import (
    BATCH_MAX_OPERATIONS,
    BulkService,
    Create,
    Delete,
    Operation,
    Outcome,
    Refused,
    Replace,
    Update,
    Upsert,
)
from service.config import Settings
from service.errors import (
    PROBLEM_MEDIA_TYPE,
    BatchInvalid,
    BatchRolledBack,
    DomainError,
    FieldError,
    InvalidTransition,
    NameConflict,
    NotAcceptable,
    NotApplied,
    PreconditionFailed,
    PreconditionRequired,
    Problem,
    RuleViolation,
    UnsupportedMediaType,
    ValidationFailed,
    WriteContention,
    domain_problem,
    responses,
    status_of,
)
from service.head import get_and_head
from service.idempotency import IDEMPOTENCY_ERRORS, IdempotencyService, idempotent
from service.listing import MAX_RANGE, QUERY_PARAMS, ListParams, SortOrder, check_param_names
from service.listing import check_times as check_time_params
from service.preconditions import (
    ANY,
    ETAG_HEADER,
    REPLAYED_HEADER,
    IdempotencyKey,
    IfMatch,
    etag,
    parse_etags,
    write_context,
)
from service.preconditions import if_match as parse_if_match
from service.schemas import VM, Name, VMCreate, VMPatch, VMReplace, VMStatus

Bulk = NamedDependency[BulkService]
Idempotency = NamedDependency[IdempotencyService]
AppSettings = NamedDependency[Settings]
Req = Request[Any, Any, Any]
T = TypeVar("T")
NDJSON = "application/x-ndjson"
CSV = "text/csv"
CSV_COLUMNS = (
    "id", "name", "status", "os", "cpu_cores", "memory_mib", "storage_gib", "ip_address",
    "labels", "description", "revision", "created_at", "updated_at",
)  # fmt: skip
NOT_EXPORT_PARAMS = frozenset({"page_size", "page_token", "include_total"})
Revision = Annotated[int, msgspec.Meta(ge=1, description="the revision the write expects")]
VMId = Annotated[str, msgspec.Meta(description="the VM's id (24 hex characters)")]


# The envelope. Item bodies (`vm`, `patch`) are decoded per item, so that an invalid one is that
# item's 400 as the single operation answers it; the OpenAPI document types them (refine_batch).
class BatchCreate(msgspec.Struct, tag_field="op", tag="create", forbid_unknown_fields=True):
    """A batch item: create a VM (CreateVM)."""

    vm: dict[str, Any]


class BatchUpdate(msgspec.Struct, tag_field="op", tag="update", forbid_unknown_fields=True):
    """A batch item: merge-patch a VM (UpdateVM)."""

    id: VMId
    patch: dict[str, Any]
    if_match: Revision | None = None


class BatchReplace(msgspec.Struct, tag_field="op", tag="replace", forbid_unknown_fields=True):
    """A batch item: replace a VM (ReplaceVM)."""

    id: VMId
    vm: dict[str, Any]
    if_match: Revision | None = None


class BatchUpsert(msgspec.Struct, tag_field="op", tag="upsert", forbid_unknown_fields=True):
    """A batch item: create or replace the VM with this name (UpsertVM)."""

    name: Name
    vm: dict[str, Any]


class BatchDelete(msgspec.Struct, tag_field="op", tag="delete", forbid_unknown_fields=True):
    """A batch item: delete a VM (DeleteVM)."""

    id: VMId
    force: bool = False
    if_match: Revision | None = None


BatchOperation = BatchCreate | BatchUpdate | BatchReplace | BatchUpsert | BatchDelete
ITEM_BODIES: dict[type[msgspec.Struct], tuple[str, type[msgspec.Struct]]] = {
    BatchCreate: ("vm", VMCreate), BatchUpdate: ("patch", VMPatch),
    BatchReplace: ("vm", VMReplace), BatchUpsert: ("vm", VMReplace),
}  # fmt: skip


class BatchRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Body of BatchVMs."""

    operations: Annotated[list[BatchOperation], msgspec.Meta(max_length=BATCH_MAX_OPERATIONS)]
    atomic: Annotated[bool, msgspec.Meta(description="all or nothing, in one transaction")] = False


class BatchItemResult(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One item's answer: the status and body its single-VM operation would give."""

    index: int
    status: int
    vm: VM | None = None
    problem: Problem | None = None


class BatchResults(msgspec.Struct, kw_only=True):
    """Answer of BatchVMs: one result per operation, in input order."""

    results: list[BatchItemResult]


def _typed(raw: dict[str, Any], target: type[T]) -> T:
    """An item body decoded as strictly as the single operation's request body."""
    from service.app import _field_errors, _integral

    try:
        return msgspec.convert(raw, target, strict=True)
    except msgspec.ValidationError as exc:
        if "got `float`" not in str(exc):
            raise _field_errors(exc) from None
        try:
            return msgspec.convert(_integral(raw), target, strict=True)
        except msgspec.ValidationError as again:
            raise _field_errors(again) from None


def parse_operation(op: BatchOperation, require_if_match: bool = False) -> Operation:
    """The use-case item for one envelope item: Refused when its body is invalid, or when it
    lacks the If-Match its single operation would need (REQUIRE_IF_MATCH; not for upserts)."""
    try:
        if isinstance(op, BatchCreate):
            return Create(_typed(op.vm, VMCreate))
        if isinstance(op, BatchUpsert):
            return Upsert(op.name, _typed(op.vm, VMReplace))
        if op.if_match is None:
            parse_if_match(None, require_if_match)  # 428 when required
        if isinstance(op, BatchUpdate):
            return Update(op.id, _typed(op.patch, VMPatch), op.if_match)
        if isinstance(op, BatchReplace):
            return Replace(op.id, _typed(op.vm, VMReplace), op.if_match)
        return Delete(op.id, op.force, op.if_match)
    except (ValidationFailed, PreconditionRequired) as exc:
        return Refused(exc)


def _result(request: Req, outcome: Outcome) -> BatchItemResult:
    if outcome.error is not None:
        body = domain_problem(outcome.error).to_response(request).content
        return BatchItemResult(
            index=outcome.index,
            status=status_of(type(outcome.error)),
            problem=msgspec.convert(body, Problem),
        )
    if outcome.vm is None:
        return BatchItemResult(index=outcome.index, status=204)
    return BatchItemResult(
        index=outcome.index, status=201 if outcome.created else 200, vm=outcome.vm
    )


def _not_applied(results: list[BatchItemResult]) -> DomainError:
    failed = next(r for r in results if r.status != status_of(NotApplied))
    detail = f"the atomic batch was not applied: operation {failed.index} failed"
    if failed.problem is not None:
        detail += f" ({failed.problem.detail})"
    kind = BatchInvalid if failed.status == status_of(ValidationFailed) else BatchRolledBack
    return kind(detail, results=msgspec.to_builtins(results))


def _batch_problem(code: int) -> ResponseSpec:
    """A Problem (as every error answer); an atomic batch's adds `results`, BatchItemResults."""
    return ResponseSpec(
        data_container=Problem,
        description=(
            "Invalid request; for an atomic batch with an invalid item, `results` (a list of "
            "BatchItemResult) names it"
            if code == 400
            else "Conflict; for an atomic batch, not applied: `results` (a list of "
            "BatchItemResult) names the failed item, the others are 424"
        ),
        media_type=PROBLEM_MEDIA_TYPE,
        generate_examples=False,
    )


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


def csv_rows(vms: list[VM], header: bool) -> bytes:
    """VMs as CSV rows (RFC 4180, CRLF), with the header row first when asked."""
    out = io.StringIO()
    writer = csv.writer(out)
    if header:
        writer.writerow(CSV_COLUMNS)
    for vm in vms:
        writer.writerow(
            (
                vm.id, vm.name, vm.status.value, vm.os, vm.cpu_cores, vm.memory_mib,
                vm.storage_gib, vm.ip_address or "", _labels_cell(vm.labels), vm.description,
                vm.revision, vm.created_at.isoformat(), vm.updated_at.isoformat(),
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


class BulkController(Controller):
    """Bulk work at /api/v1/vms: batches, upsert by name, exports."""

    path = "/api/v1/vms"
    tags = ["vms"]
    security = [{"ApiKey": []}]

    @post(
        "/batch",
        operation_id="BatchVMs",
        summary="Apply up to 1000 writes, each answered as its single operation would be",
        status_code=200,
        responses=responses(NameConflict, UnsupportedMediaType, *IDEMPOTENCY_ERRORS)
        | {400: _batch_problem(400), 409: _batch_problem(409)},
        response_headers=[REPLAYED_HEADER],
    )
    async def batch_vms(
        self,
        request: Req,
        data: JSONBody[BatchRequest],
        bulk_service: Bulk,
        idempotency: Idempotency,
        settings: AppSettings,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[BatchResults]:
        """Per-item results in input order; an atomic batch failing applies nothing (409/400)."""
        ctx = write_context(request)
        ops = [parse_operation(op, settings.require_if_match) for op in data.operations]

        def render(answer: tuple[list[Outcome], bool]) -> Response[BatchResults]:
            outcomes, applied = answer
            results = [_result(request, outcome) for outcome in outcomes]
            if not applied:
                raise _not_applied(results)
            return Response(BatchResults(results=results), status_code=200)

        return await idempotent(
            request, idempotency_key, idempotency, ctx.actor, data,
            lambda: bulk_service.run_batch(ops, data.atomic, ctx), render, in_transaction=False,
        )  # fmt: skip

    @put(
        "/by-name/{name:str}",
        operation_id="UpsertVM",
        summary="Create (201) or replace (200) the VM with this name, ignoring case",
        responses=responses(
            NameConflict,
            InvalidTransition,
            RuleViolation,
            PreconditionFailed,
            PreconditionRequired,
            WriteContention,
            UnsupportedMediaType,
            *IDEMPOTENCY_ERRORS,
        )
        | {
            201: ResponseSpec(
                data_container=VM, description="Created: no VM had the name; Location names it"
            )
        },
        response_headers=[ETAG_HEADER, REPLAYED_HEADER],
    )
    async def upsert_vm(
        self,
        request: Req,
        name: Annotated[str, Parameter(description="the VM's name (matched ignoring case)")],
        data: JSONBody[VMReplace],
        bulk_service: Bulk,
        idempotency: Idempotency,
        settings: AppSettings,
        if_match: IfMatch = None,
        if_none_match: Annotated[
            str | None,
            HeaderParameter(
                name="If-None-Match",
                description="* creates only: 412 when a VM has the name already",
            ),
        ] = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Response[VM]:
        """Create or replace by name; If-Match needs the VM to exist, If-None-Match: * not."""
        create_only = False
        if if_none_match is not None:
            if parse_etags(if_none_match, "If-None-Match") != ANY:
                message = "UpsertVM takes only *"
                raise ValidationFailed(
                    f"If-None-Match: {message}", [FieldError("If-None-Match", message)]
                )
            create_only = True
        expected = parse_if_match(if_match, settings.require_if_match and not create_only)
        ctx = write_context(request)

        def render(result: Any) -> Response[VM]:
            if isinstance(result, VM):  # stored inside a write's transaction: an insert is rev 1
                vm, created = result, result.revision == 1
            else:
                vm, created = result
            if not created:
                return Response(vm, headers=etag(vm))
            headers = {"Location": f"{self.path}/{vm.id}", **etag(vm)}
            return Response(vm, status_code=HTTP_201_CREATED, headers=headers)

        return await idempotent(
            request, idempotency_key, idempotency, ctx.actor, data,
            lambda: bulk_service.upsert_vm(name, data, expected, create_only, ctx), render,
        )  # fmt: skip

    @get_and_head(
        "/export",
        operation_id="ExportVMs",
        summary="Every VM matching ListVMs' filters, streamed as NDJSON or CSV",
        responses=responses(NotAcceptable)
        | {
            200: ResponseSpec(
                data_container=VM,
                description="one VM per line (NDJSON), or CSV with labels as `k=v;k=v`",
                media_type=NDJSON,
                generate_examples=False,
            )
        },
    )
    async def export_vms(
        self,
        request: Req,
        bulk_service: Bulk,
        status: Annotated[list[VMStatus] | None, Parameter(description="as ListVMs")] = None,
        os: Annotated[list[str] | None, Parameter(description="as ListVMs")] = None,
        name_prefix: Annotated[str | None, Parameter(description="as ListVMs")] = None,
        label: Annotated[list[str] | None, Parameter(description="as ListVMs")] = None,
        cpu_cores_min: Annotated[int | None, Parameter(ge=0, le=MAX_RANGE)] = None,
        cpu_cores_max: Annotated[int | None, Parameter(ge=0, le=MAX_RANGE)] = None,
        memory_mib_min: Annotated[int | None, Parameter(ge=0, le=MAX_RANGE)] = None,
        memory_mib_max: Annotated[int | None, Parameter(ge=0, le=MAX_RANGE)] = None,
        storage_gib_min: Annotated[int | None, Parameter(ge=0, le=MAX_RANGE)] = None,
        storage_gib_max: Annotated[int | None, Parameter(ge=0, le=MAX_RANGE)] = None,
        created_after: Annotated[datetime | None, Parameter(description="as ListVMs")] = None,
        created_before: Annotated[datetime | None, Parameter(description="as ListVMs")] = None,
        ip_address: Annotated[str | None, Parameter(description="as ListVMs")] = None,
        ip_in: Annotated[str | None, Parameter(description="as ListVMs")] = None,
        sort: Annotated[SortOrder, Parameter(description="as ListVMs")] = SortOrder.CREATED_AT_DESC,
    ) -> Stream:
        """The filters, sort and rules of ListVMs; one snapshot, streamed in constant memory."""
        query = request.query_params
        names = list(query.keys())
        for name in names:
            if name in NOT_EXPORT_PARAMS:
                known = ", ".join(sorted(QUERY_PARAMS - NOT_EXPORT_PARAMS))
                raise _invalid(name, f"unknown query parameter (known: {known})")
        check_param_names(names, {k: len(query.getall(k)) for k in query})
        check_time_params({k: query[k] for k in ("created_after", "created_before") if k in query})
        as_csv = wants_csv(request.headers.get("accept"))
        params = ListParams(
            status=status, os=os, name_prefix=name_prefix, label=label,
            cpu_cores_min=cpu_cores_min, cpu_cores_max=cpu_cores_max,
            memory_mib_min=memory_mib_min, memory_mib_max=memory_mib_max,
            storage_gib_min=storage_gib_min, storage_gib_max=storage_gib_max,
            created_after=created_after, created_before=created_before,
            ip_address=ip_address, ip_in=ip_in, sort=sort,
        )  # fmt: skip
        batches = bulk_service.export(params)
        # The first batch before the answer starts: a bad filter or MongoDB down is still a
        # problem+json; later failures can only cut the stream short.
        first: list[VM] = await anext(batches, [])
        if request.method == "HEAD":  # GET's status and headers, without reading every VM
            await batches.aclose()
            first = []

        async def body() -> AsyncIterator[bytes]:
            try:
                yield csv_rows(first, header=True) if as_csv else ndjson_lines(first)
                async for batch in batches:
                    yield csv_rows(batch, header=False) if as_csv else ndjson_lines(batch)
            finally:
                await batches.aclose()

        media_type = "text/csv; charset=utf-8" if as_csv else NDJSON
        return Stream(body(), media_type=media_type)


def _invalid(name: str, message: str) -> ValidationFailed:
    return ValidationFailed(f"{name}: {message}", [FieldError(name, message)])


def _ref(struct: type[msgspec.Struct]) -> Reference:
    return Reference(ref=f"#/components/schemas/{struct.__name__}")


def refine_openapi(openapi: OpenAPI) -> None:
    """Type the batch items' bodies (decoded per item, so plain objects to Litestar), name the
    union's discriminator, refuse unknown fields; ExportVMs answers NDJSON or CSV text."""
    schemas = openapi.components.schemas if openapi.components else {}
    for struct in (*BatchOperation.__args__, BatchRequest):
        schema = schemas.get(struct.__name__)
        if not isinstance(schema, Schema) or schema.properties is None:
            continue
        schema.additional_properties = False
        if struct in ITEM_BODIES:
            field, body = ITEM_BODIES[struct]
            schema.properties = {**schema.properties, field: _ref(body)}
        operations = schema.properties.get("operations")
        if isinstance(operations, Schema) and isinstance(operations.items, Schema):
            operations.items.discriminator = Discriminator(
                property_name="op",
                mapping={
                    msgspec.inspect.type_info(op).tag: _ref(op).ref  # type: ignore[attr-defined]
                    for op in BatchOperation.__args__
                },
            )
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
