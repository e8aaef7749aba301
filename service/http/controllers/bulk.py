"""HTTP for the bulk writes: BatchVMs and UpsertVM (by name)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, post, put
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import HeaderParameter, JSONBody, Parameter
from litestar.status_codes import HTTP_201_CREATED

from service.config import Settings
from service.domain.bulk import BulkService
from service.domain.bulk_items import Outcome
from service.domain.errors import (
    FieldError,
    InvalidTransition,
    NameConflict,
    PreconditionFailed,
    PreconditionRequired,
    RuleViolation,
    UnsupportedMediaType,
    ValidationFailed,
    WriteContention,
)
from service.domain.idempotency import IdempotencyService
from service.domain.schemas import VM, VMReplace
from service.http.controllers.bulk_wire import (
    BatchRequest,
    BatchResults,
    batch_problem,
    item_result,
    not_applied,
    parse_operation,
)
from service.http.idempotency import IDEMPOTENCY_ERRORS, idempotent
from service.http.preconditions import (
    ANY,
    ETAG_HEADER,
    REPLAYED_HEADER,
    IdempotencyKey,
    IfMatch,
    etag,
    parse_etags,
    write_context,
)
from service.http.problems import (
    responses,
)
from service.http.writes import conditional_write

Bulk = NamedDependency[BulkService]
Idempotency = NamedDependency[IdempotencyService]
AppSettings = NamedDependency[Settings]
Req = Request[Any, Any, Any]


class BulkController(Controller):
    """Bulk writes at /api/v1/vms: batches and upsert by name."""

    path = "/api/v1/vms"
    tags = ["vms"]
    security = [{"ApiKey": []}]

    @post(
        "/batch",
        operation_id="BatchVMs",
        summary="Apply up to 1000 writes, each answered as its single operation would be",
        status_code=200,
        responses=responses(NameConflict, UnsupportedMediaType, *IDEMPOTENCY_ERRORS)
        | {400: batch_problem(400), 409: batch_problem(409)},
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
            results = [item_result(request, outcome) for outcome in outcomes]
            if not applied:
                raise not_applied(results)
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

        def render(result: Any) -> Response[VM]:
            if isinstance(result, VM):  # stored inside a write's transaction: an insert is rev 1
                vm, created = result, result.revision == 1
            else:
                vm, created = result
            if not created:
                return Response(vm, headers=etag(vm))
            headers = {"Location": f"{self.path}/{vm.id}", **etag(vm)}
            return Response(vm, status_code=HTTP_201_CREATED, headers=headers)

        return await conditional_write(
            request, if_match, settings.require_if_match and not create_only, idempotency_key,
            idempotency, data,
            lambda expected, ctx: bulk_service.upsert_vm(
                name, data, expected, create_only, ctx, must_exist=if_match is not None
            ),
            render,
        )  # fmt: skip
