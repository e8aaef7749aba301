"""VM CRUD at /api/v1/vms: parse the request, call one VMService method, return a Struct."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Response, delete, patch, post, put
from litestar.di import NamedDependency
from litestar.params import JSONBody, Parameter
from litestar.status_codes import (
    HTTP_200_OK,
    HTTP_201_CREATED,
    HTTP_204_NO_CONTENT,
    HTTP_304_NOT_MODIFIED,
)

from service.domain.apikeys import Scope
from service.domain.errors import (
    Forbidden,
    InvalidTransition,
    NameConflict,
    NotDeleted,
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
    QuotaExceeded,
    RuleViolation,
    UnsupportedMediaType,
    WriteContention,
)
from service.domain.listing import ListParams
from service.domain.schemas import (
    VM,
    VMCreate,
    VMPage,
    VMPatch,
    VMReplace,
)
from service.http.controllers.list_params import LIST_PARAMS
from service.http.controllers.params import Req, Service, VMId
from service.http.head import get_and_head
from service.http.idempotency import IDEMPOTENCY_ERRORS
from service.http.middleware.auth import access_of, require
from service.http.preconditions import (
    ETAG_HEADER,
    NOT_MODIFIED,
    REPLAYED_HEADER,
    IfNoneMatch,
    etag,
    not_modified,
)
from service.http.problems import NoContentOperation, responses
from service.http.writes import CONDITIONAL_WRITE, KEYED_WRITE, Write

_WRITE_ERRORS = (
    NotFound, NameConflict, QuotaExceeded, InvalidTransition, RuleViolation, PreconditionFailed,
    PreconditionRequired, WriteContention, UnsupportedMediaType, *IDEMPOTENCY_ERRORS,
)  # fmt: skip


def _with_etag(vm: VM) -> Response[VM]:
    return Response(vm, headers=etag(vm))


def _no_content(_: None) -> Response[None]:
    return Response(None, status_code=HTTP_204_NO_CONTENT)


ShowDeleted = Annotated[
    bool, Parameter(description="also a deleted VM (with deleted_at and purge_at)")
]


class VMController(Controller):
    """CRUD for VMs at /api/v1/vms."""

    path = "/api/v1/vms"
    tags = ["vms"]
    security = [{"ApiKey": []}]

    @post(
        "/",
        operation_id="CreateVM",
        summary="Register a VM",
        status_code=HTTP_201_CREATED,
        responses=responses(
            NameConflict, QuotaExceeded, Forbidden, UnsupportedMediaType, *IDEMPOTENCY_ERRORS
        ),
        response_headers=[ETAG_HEADER, REPLAYED_HEADER],
        dependencies=KEYED_WRITE,
    )
    async def create_vm(
        self, data: JSONBody[VMCreate], vm_service: Service, write: Write
    ) -> Response[VM]:
        """Create a VM; 201 with Location and ETag."""

        def created(vm: VM) -> Response[VM]:
            headers = {"Location": f"{self.path}/{vm.id}", **etag(vm)}
            return Response(vm, status_code=HTTP_201_CREATED, headers=headers)

        async with write.claim(data, committed=created) as claim:
            if claim.replay is not None:
                return claim.replay
            return await claim.respond(created(await vm_service.create_vm(data, claim.ctx)))

    @get_and_head(
        "/",
        operation_id="ListVMs",
        summary="Find VMs: filters, sort, cursor pages",
        responses=responses(Forbidden),
        dependencies=LIST_PARAMS,
    )
    async def list_vms(
        self, request: Req, vm_service: Service, params: NamedDependency[ListParams]
    ) -> VMPage:
        """One page of the VMs matching every given filter, in the projects the key reads."""
        return await vm_service.list_vms(params, access_of(request.scope))

    @get_and_head(
        "/{vm_id:str}",
        operation_id="GetVM",
        summary="Get one VM",
        responses=responses(NotFound) | NOT_MODIFIED,
        response_headers=[ETAG_HEADER],
    )
    async def get_vm(
        self,
        request: Req,
        vm_id: VMId,
        vm_service: Service,
        if_none_match: IfNoneMatch = None,
        show_deleted: ShowDeleted = False,
    ) -> Response[VM]:
        """One VM, with its ETag (304 while If-None-Match names it)."""
        vm = await vm_service.get_vm(vm_id, show_deleted, access_of(request.scope))
        if not_modified(if_none_match, vm.revision):
            return Response(None, status_code=HTTP_304_NOT_MODIFIED, headers=etag(vm))  # type: ignore[arg-type]
        return Response(vm, headers=etag(vm))

    @put(
        "/{vm_id:str}",
        operation_id="ReplaceVM",
        summary="Replace a VM's writable fields",
        responses=responses(*_WRITE_ERRORS),
        response_headers=[ETAG_HEADER, REPLAYED_HEADER],
        dependencies=CONDITIONAL_WRITE,
    )
    async def replace_vm(
        self, vm_id: VMId, data: JSONBody[VMReplace], vm_service: Service, write: Write
    ) -> Response[VM]:
        """Replace a VM."""
        async with write.claim(data, committed=_with_etag) as claim:
            if claim.replay is not None:
                return claim.replay
            vm = await vm_service.replace_vm(vm_id, data, claim.expected, claim.ctx)
            return await claim.respond(_with_etag(vm))

    @patch(
        "/{vm_id:str}",
        operation_id="UpdateVM",
        summary="Change some fields (JSON Merge Patch)",
        responses=responses(*_WRITE_ERRORS),
        response_headers=[ETAG_HEADER, REPLAYED_HEADER],
        dependencies=CONDITIONAL_WRITE,
    )
    async def update_vm(
        self, vm_id: VMId, data: JSONBody[VMPatch], vm_service: Service, write: Write
    ) -> Response[VM]:
        """Apply a merge patch."""
        async with write.claim(data, committed=_with_etag) as claim:
            if claim.replay is not None:
                return claim.replay
            vm = await vm_service.update_vm(vm_id, data, claim.expected, claim.ctx)
            return await claim.respond(_with_etag(vm))

    @delete(
        "/{vm_id:str}",
        operation_id="DeleteVM",
        summary="Delete a VM (restorable until its purge_at), or purge it (admin)",
        description="Without `purge`, the VM is kept as deleted: GetVM and ListVMs no longer "
        "show it (unless `show_deleted=true`), its name is free, and RestoreVM brings it back "
        "until its `purge_at` (DELETED_RETENTION_DAYS later), when MongoDB purges it. "
        "`purge=true` removes it at once, live or deleted, and needs an API key of scope "
        "`admin` (403 otherwise, before the VM is looked up).",
        status_code=HTTP_204_NO_CONTENT,
        operation_class=NoContentOperation,
        responses=responses(*(e for e in _WRITE_ERRORS if e is not UnsupportedMediaType)),
        response_headers=[REPLAYED_HEADER],
        dependencies=CONDITIONAL_WRITE,
    )
    async def delete_vm(
        self,
        vm_id: VMId,
        vm_service: Service,
        force: Annotated[
            bool, Parameter(description="delete even while running or suspended")
        ] = False,
        purge: Annotated[
            bool,
            Parameter(
                description="remove it at once, live or deleted (scope admin); history stays"
            ),
        ] = False,
        *,
        write: Write,
    ) -> Response[None]:
        """Delete a VM (its history stays readable)."""
        if purge:  # the route needs `write` (auth checked it); a purge needs `admin`
            require(write.request.scope["user"], Scope.ADMIN, "purge=true")
        async with write.claim(None, committed=_no_content) as claim:
            if claim.replay is not None:
                return claim.replay
            await vm_service.delete_vm(
                vm_id, force=force, if_match=claim.expected, ctx=claim.ctx, purge=purge
            )
            return await claim.respond(_no_content(None))

    @post(
        "/{vm_id:str}/restore",
        operation_id="RestoreVM",
        summary="Restore a deleted VM",
        description="The deleted VM is live again at a new revision (200). 409 `not-deleted` "
        "when it is live; 409 `name-conflict` when a live VM took its name meanwhile "
        "(`holder_id` names it); 404 when it never existed or was purged.",
        status_code=HTTP_200_OK,
        responses=responses(
            NotFound,
            NotDeleted,
            NameConflict,
            QuotaExceeded,
            PreconditionFailed,
            PreconditionRequired,
            WriteContention,
            *IDEMPOTENCY_ERRORS,
        ),
        response_headers=[ETAG_HEADER, REPLAYED_HEADER],
        dependencies=CONDITIONAL_WRITE,
    )
    async def restore_vm(self, vm_id: VMId, vm_service: Service, write: Write) -> Response[VM]:
        """Make a deleted VM live again."""
        async with write.claim(None, committed=_with_etag) as claim:
            if claim.replay is not None:
                return claim.replay
            vm = await vm_service.restore_vm(vm_id, claim.expected, claim.ctx)
            return await claim.respond(_with_etag(vm))
