"""`inv.projects`: CreateProject, GetProject, ListProjects, UpdateProject and DeleteProject."""

from __future__ import annotations

import builtins
import functools
from collections.abc import AsyncIterator, Mapping
from typing import Any

from ..api.projects import (
    create_project,
    delete_project,
    get_project,
    list_projects,
    update_project,
)
from ..models import Project, ProjectCreate, ProjectPage, ProjectUpdate, Quota, QuotaPatch
from ..types import UNSET, Response, Unset
from .arguments import Revision, etag, pages, parsed
from .sending import Operation, Sender

# A quota as the facade takes it: {"vms": 10, "cpu_cores": None, ...} (None: no limit).
Limits = Mapping[str, int | None]


class Projects:
    """The /api/v1/projects operations. Managing projects needs an admin key restricted to no
    project (Forbidden otherwise); reads see only the projects the key may see."""

    def __init__(self, sender: Sender) -> None:
        """Send through `sender` (shared with `inv.vms`)."""
        self._sender = sender

    async def _write(self, operation: Operation, *args: Any, **kwargs: Any) -> Response[Any]:
        # Project writes take no Idempotency-Key: resent only when they surely were not sent.
        send = functools.partial(operation, *args, client=self._sender.client, **kwargs)
        return await self._sender.call(send, resend_safe=False)

    async def create(
        self, name: str, *, description: str = "", quota: Limits | None = None
    ) -> Project:
        """A new project (CreateProject); NameConflict when the name is taken."""
        body = ProjectCreate(
            name=name, description=description, quota=Quota.from_dict(dict(quota or {}))
        )
        return parsed(await self._write(create_project.asyncio_detailed, body=body), Project)

    async def get(self, name: str) -> Project:
        """One project with its quota and usage (GetProject); NotFound for one the key may
        not see."""
        response = await self._sender.read(get_project.asyncio_detailed, name)
        return parsed(response, Project)

    def list(self, *, page_size: int = 100) -> AsyncIterator[Project]:
        """Every project the key may see, by name, fetching pages as they are needed."""

        async def fetch(token: str | Unset) -> ProjectPage:
            response = await self._sender.read(
                list_projects.asyncio_detailed, page_size=page_size, page_token=token
            )
            return parsed(response, ProjectPage)

        return pages(fetch)

    async def all(self) -> builtins.list[Project]:
        """Every project the key may see, as a list."""
        return [project async for project in self.list()]

    async def update(
        self,
        name: str,
        *,
        description: str | Unset = UNSET,
        quota: Limits | Unset = UNSET,
        if_match: Revision | None = None,
    ) -> Project:
        """Change the description or some limits (UpdateProject, a merge patch: a limit given
        as None is lifted, one left out stays); with `if_match`, only at that revision (else
        PreconditionFailed). A quota below the usage is allowed."""
        patch = UNSET if isinstance(quota, Unset) else QuotaPatch.from_dict(dict(quota))
        body = ProjectUpdate(description=description, quota=patch)
        response = await self._write(
            update_project.asyncio_detailed, name, body=body, if_match=etag(if_match)
        )
        return parsed(response, Project)

    async def delete(self, name: str, *, if_match: Revision | None = None) -> None:
        """Delete a project (DeleteProject); ProjectNotEmpty while it holds any VM (live or
        restorable), and for `default`."""
        await self._write(delete_project.asyncio_detailed, name, if_match=etag(if_match))
