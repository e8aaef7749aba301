"""HTTP for the bulk writes: BatchVMs and UpsertVM (by name)."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Response, post, put
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import JSONBody, Parameter
from litestar.status_codes import HTTP_201_CREATED

from service.domain.bulk import BulkService
from service.domain.errors import (
    Forbidden,
    InvalidTransition,
    NameConflict,
    PreconditionFailed,
    PreconditionRequired,
    QuotaExceeded,
    RuleViolation,
    UnsupportedMediaType,
    WriteContention,
)
from service.domain.schemas import PROJECT_NAME_PATTERN, VM, VMReplace
from service.http.controllers.bulk_wire import (
    BatchRequest,
    BatchResults,
    batch_problem,
    item_result,
    not_applied,
    parse_operation,
)
from service.http.controllers.params import AppSettings
from service.http.idempotency import IDEMPOTENCY_ERRORS
from service.http.preconditions import (
    ETAG_HEADER,
    REPLAYED_HEADER,
    etag,
)
from service.http.problems import (
    responses,
)
from service.http.writes import KEYED_WRITE, UPSERT_WRITE, Write

Bulk = NamedDependency[BulkService]


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
        dependencies=KEYED_WRITE,
    )
    async def batch_vms(
        self,
        data: JSONBody[BatchRequest],
        bulk_service: Bulk,
        settings: AppSettings,
        write: Write,
    ) -> Response[BatchResults]:
        """Per-item results in input order; an atomic batch failing applies nothing (409/400)."""
        ops = [parse_operation(op, settings.require_if_match) for op in data.operations]
        # No `committed`: a batch is several writes; its response is stored after the last one.
        async with write.claim(data) as claim:
            if claim.replay is not None:
                return claim.replay
            outcomes, applied = await bulk_service.run_batch(ops, data.atomic, claim.ctx)
            results = [item_result(write.request, outcome) for outcome in outcomes]
            if not applied:
                raise not_applied(results)
            return await claim.respond(Response(BatchResults(results=results), status_code=200))

    @put(
        "/by-name/{name:str}",
        operation_id="UpsertVM",
        summary="Create (201) or replace (200) the VM with this name, ignoring case",
        responses=responses(
            NameConflict,
            QuotaExceeded,
            Forbidden,
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
        dependencies=UPSERT_WRITE,
    )
    async def upsert_vm(
        self,
        name: Annotated[str, Parameter(description="the VM's name (matched ignoring case)")],
        data: JSONBody[VMReplace],
        bulk_service: Bulk,
        write: Write,
        project: Annotated[
            str | None,
            Parameter(
                description="the VM's project (default: the body's, else the key's first "
                "project, else `default`); names are unique per project",
                pattern=PROJECT_NAME_PATTERN,
                max_length=63,
            ),
        ] = None,
    ) -> Response[VM]:
        """Create or replace by name; If-Match needs the VM to exist, If-None-Match: * not."""

        def render(vm: VM, created: bool) -> Response[VM]:
            if not created:
                return Response(vm, headers=etag(vm))
            headers = {"Location": f"{self.path}/{vm.id}", **etag(vm)}
            return Response(vm, status_code=HTTP_201_CREATED, headers=headers)

        def committed(vm: VM) -> Response[VM]:
            return render(vm, vm.revision == 1)  # a write that commits revision 1 inserted it

        async with write.claim(data, committed=committed) as claim:
            if claim.replay is not None:
                return claim.replay
            vm, created = await bulk_service.upsert_vm(
                name, data, claim.expected, write.create_only, claim.ctx,
                must_exist=write.if_match is not None, project=project,
            )  # fmt: skip
            return await claim.respond(render(vm, created))
