"""Dependency and parameter types the controllers share."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request
from litestar.di import NamedDependency
from litestar.params import Parameter

from service.config import Settings
from service.domain.events import EventService
from service.domain.idempotency import IdempotencyService
from service.domain.listing import MAX_PAGE_SIZE
from service.domain.vms import VMService

Service = NamedDependency[VMService]
Events = NamedDependency[EventService]
Idempotency = NamedDependency[IdempotencyService]
AppSettings = NamedDependency[Settings]
VMId = Annotated[str, Parameter(description="the VM's id (24 hex characters)")]
PageSize = Annotated[int, Parameter(ge=1, le=MAX_PAGE_SIZE)]
PageToken = Annotated[str | None, Parameter(description="next_page_token of the previous page")]
Req = Request[Any, Any, Any]
