"""The project use cases: create, read, list, change and delete projects, within a key's Access."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol

import msgspec

from service.domain.errors import (
    Forbidden,
    NotFound,
    ProjectNotEmpty,
    WriteContention,
)
from service.domain.listing import PageTokens
from service.domain.projects.access import EVERY_PROJECT, Access
from service.domain.projects.schemas import (
    DEFAULT_PROJECT,
    Project,
    ProjectCreate,
    ProjectPage,
    ProjectUpdate,
    Quota,
)
from service.domain.repository import StaleRevision
from service.domain.revisions import IfMatch, after_lost, check_if_match
from service.domain.rules import utcnow

Projects = list[Project]  # (inside ProjectStore, `list` names the method)
MAX_WRITE_ATTEMPTS = 64
_WALK = "projects"  # what a page token of ListProjects is bound to
_MANAGE = "Authorization"  # the field a restricted key's 403 names: the key it sent


class ProjectStore(Protocol):
    """What the project use cases need from storage (ProjectRepository, or a fake)."""

    async def create(self, data: ProjectCreate, now: datetime) -> Project:
        """Insert the project with its usage ledger (nothing used); NameConflict when taken."""

    async def get(self, name: str) -> Project:
        """The project with its usage; NotFound when there is none."""

    async def list(
        self, after: str | None, limit: int, among: tuple[str, ...] | None
    ) -> list[Project]:
        """Up to `limit` projects by name after `after`, only those `among` (None: all)."""

    async def all(self) -> Projects:
        """Every project with its usage."""

    async def update(
        self, name: str, revision: int, description: str, quota: Quota, now: datetime
    ) -> Project:
        """Set both if the project is at `revision` (StaleRevision if not, NotFound if gone)."""

    async def delete(self, name: str, revision: int) -> None:
        """Remove the project at `revision` and its ledger; ProjectNotEmpty while it holds a
        VM (live or restorable), StaleRevision or NotFound as update."""


class ProjectService:
    """Projects: every key reads those it may see; only an unrestricted admin key manages them
    (the admin scope is the route's, checked before this)."""

    def __init__(
        self,
        store: ProjectStore,
        page_tokens: PageTokens | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        """Serve over `store`; `page_tokens` signs ListProjects' tokens, `clock` gives times."""
        self.store = store
        self.page_tokens = page_tokens or PageTokens()
        self.clock = clock

    async def create_project(self, data: ProjectCreate, access: Access = EVERY_PROJECT) -> Project:
        """A new project at revision 1, nothing used."""
        _manages(access)
        return await self.store.create(data, self.clock())

    async def get_project(self, name: str, access: Access = EVERY_PROJECT) -> Project:
        """One project the key may see (any other is missing to it)."""
        if not access.sees(name):
            raise _missing(name)
        return await self.store.get(name)

    async def list_projects(
        self, page_size: int, page_token: str | None = None, access: Access = EVERY_PROJECT
    ) -> ProjectPage:
        """A page of the projects the key may see, by name."""
        after = None
        if page_token is not None:
            after = self.page_tokens.decode(page_token, _WALK, "name_key").id
        items = await self.store.list(after, page_size + 1, access.projects)
        token = None
        if len(items) > page_size:
            items = items[:page_size]
            token = self.page_tokens.encode(_WALK, items[-1].name, items[-1].name, ties=False)
        return ProjectPage(items=items, next_page_token=token)

    async def every_project(self) -> list[Project]:
        """Every project with its usage, whoever may see it (the metrics, never a request)."""
        return await self.store.all()

    async def update_project(
        self,
        name: str,
        patch: ProjectUpdate,
        if_match: IfMatch = None,
        access: Access = EVERY_PROJECT,
    ) -> Project:
        """Apply a JSON Merge Patch of description and quota (a quota below the usage is
        allowed: then only writes raising nothing pass)."""
        _manages(access)
        for _ in range(MAX_WRITE_ATTEMPTS):
            current = await self.store.get(name)
            check_if_match(current.revision, if_match, "project")
            description = current.description
            if not isinstance(patch.description, msgspec.UnsetType):
                description = patch.description
            quota = current.quota
            if not isinstance(patch.quota, msgspec.UnsetType):
                given = msgspec.structs.asdict(patch.quota)
                merged = msgspec.structs.asdict(current.quota)
                merged.update({k: v for k, v in given.items() if v is not msgspec.UNSET})
                quota = Quota(**merged)
            if description == current.description and quota == current.quota:
                return current
            try:
                return await self.store.update(
                    name, current.revision, description, quota, self.clock()
                )
            except StaleRevision as lost:
                await after_lost(lost, if_match, "project")
        raise WriteContention("the project kept changing; retry")

    async def delete_project(
        self, name: str, if_match: IfMatch = None, access: Access = EVERY_PROJECT
    ) -> None:
        """Remove an empty project (never `default`)."""
        _manages(access)
        if name == DEFAULT_PROJECT:
            raise ProjectNotEmpty(
                f"project {DEFAULT_PROJECT!r} holds every unrestricted key's VMs and always stays"
            )
        for _ in range(MAX_WRITE_ATTEMPTS):
            current = await self.store.get(name)
            check_if_match(current.revision, if_match, "project")
            try:
                await self.store.delete(name, current.revision)
                return
            except StaleRevision as lost:
                await after_lost(lost, if_match, "project")
        raise WriteContention("the project kept changing; retry")


def _manages(access: Access) -> None:
    """403 for a key restricted to projects: it never creates, changes or deletes one."""
    if access.restricted:
        raise Forbidden(
            _MANAGE,
            "this API key is restricted to projects; creating, changing and deleting projects "
            "needs an admin key for every project",
        )


def _missing(name: str) -> NotFound:
    return NotFound(f"no project named {name!r}")
