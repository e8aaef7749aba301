"""HTTP only: parse the request, call one service method, return a Struct."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, patch, post, put
from litestar.di import NamedDependency
from litestar.params import JSONBody, Parameter
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT

from service.errors import (
    DatabaseUnavailable,
    InvalidTransition,
    NameConflict,
    NotFound,
    PreconditionFailed,
    RuleViolation,
    UnsupportedMediaType,
    WriteContention,
    responses,
)
from service.observability import refresh_readiness
from service.schemas import VM, Health, VMCreate, VMPage, VMPatch, VMReplace
from service.services import VMService

Service = NamedDependency[VMService]
VMId = Annotated[str, Parameter(description="the VM's id (24 hex characters)")]


def etag(vm: VM) -> dict[str, str]:
    """The strong validator of a VM: its revision."""
    return {"ETag": f'"{vm.revision}"'}


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
        responses=responses(NameConflict, UnsupportedMediaType),
    )
    async def create_vm(self, data: JSONBody[VMCreate], vm_service: Service) -> Response[VM]:
        """Create a VM; 201 with Location and ETag."""
        vm = await vm_service.create_vm(data)
        headers = {"Location": f"{self.path}/{vm.id}", **etag(vm)}
        return Response(vm, status_code=HTTP_201_CREATED, headers=headers)

    @get("/", operation_id="ListVMs", summary="List VMs, newest first", responses=responses())
    async def list_vms(
        self,
        vm_service: Service,
        page_size: Annotated[int, Parameter(ge=1, le=500)] = 50,
        page_token: Annotated[
            str | None, Parameter(description="next_page_token of the previous page")
        ] = None,
    ) -> VMPage:
        """One page of VMs."""
        return await vm_service.list_vms(page_size, page_token)

    @get("/{vm_id:str}", operation_id="GetVM", summary="Get one VM", responses=responses(NotFound))
    async def get_vm(self, vm_id: VMId, vm_service: Service) -> Response[VM]:
        """One VM, with its ETag."""
        vm = await vm_service.get_vm(vm_id)
        return Response(vm, headers=etag(vm))

    @put(
        "/{vm_id:str}",
        operation_id="ReplaceVM",
        summary="Replace a VM's writable fields",
        responses=responses(
            NotFound, NameConflict, InvalidTransition, RuleViolation, PreconditionFailed,
            WriteContention, UnsupportedMediaType,
        ),
    )  # fmt: skip
    async def replace_vm(
        self, vm_id: VMId, data: JSONBody[VMReplace], vm_service: Service
    ) -> Response[VM]:
        """Replace a VM."""
        vm = await vm_service.replace_vm(vm_id, data)
        return Response(vm, headers=etag(vm))

    @patch(
        "/{vm_id:str}",
        operation_id="UpdateVM",
        summary="Change some fields (JSON Merge Patch)",
        responses=responses(
            NotFound, NameConflict, InvalidTransition, RuleViolation, PreconditionFailed,
            WriteContention, UnsupportedMediaType,
        ),
    )  # fmt: skip
    async def update_vm(
        self, vm_id: VMId, data: JSONBody[VMPatch], vm_service: Service
    ) -> Response[VM]:
        """Apply a merge patch."""
        vm = await vm_service.update_vm(vm_id, data)
        return Response(vm, headers=etag(vm))

    @delete(
        "/{vm_id:str}",
        operation_id="DeleteVM",
        summary="Delete a VM",
        status_code=HTTP_204_NO_CONTENT,
        responses=responses(NotFound, RuleViolation, PreconditionFailed, WriteContention),
    )
    async def delete_vm(
        self,
        vm_id: VMId,
        vm_service: Service,
        force: Annotated[
            bool, Parameter(description="delete even while running or suspended")
        ] = False,
    ) -> None:
        """Delete a VM."""
        await vm_service.delete_vm(vm_id, force=force)


class HealthController(Controller):
    """Liveness and readiness probes."""

    path = "/health"
    tags = ["health"]

    @get("/live", operation_id="Live", summary="The process is up")
    async def live(self) -> Health:
        """Always ok while the process serves."""
        return Health(status="ok")

    @get(
        "/ready", operation_id="Ready", summary="MongoDB answers", responses=responses(public=True)
    )
    async def ready(self, request: Request[Any, Any, Any], vm_service: Service) -> Health:
        """Ok when MongoDB answers a ping; 503 otherwise."""
        if not await refresh_readiness(vm_service):
            raise DatabaseUnavailable()
        return Health(status="ok")
