"""ListVMEvents: a VM's change history at /api/v1/vms/{vm_id}/events."""

from __future__ import annotations

from litestar import Controller

from service.domain.errors import NotFound
from service.domain.schemas import VMEventPage
from service.http.controllers.params import Events, PageSize, PageToken, Req, VMId
from service.http.head import get_and_head
from service.http.middleware.auth import access_of
from service.http.problems import responses


class EventController(Controller):
    """Each VM's change history (beside VMController's routes, under the same path and tag)."""

    path = "/api/v1/vms"
    tags = ["vms"]
    security = [{"ApiKey": []}]

    @get_and_head(
        "/{vm_id:str}/events",
        operation_id="ListVMEvents",
        summary="A VM's change history, newest first (also after it was deleted)",
        responses=responses(NotFound),
    )
    async def list_vm_events(
        self,
        request: Req,
        vm_id: VMId,
        event_service: Events,
        page_size: PageSize = 50,
        page_token: PageToken = None,
    ) -> VMEventPage:
        """One page of the VM's events; 404 only for an id that never existed."""
        access = access_of(request.scope)
        return await event_service.list_events(vm_id, page_size, page_token, access)
