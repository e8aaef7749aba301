"""Projects at /api/v1/projects: parse the request, call one ProjectService method."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Response, delete, patch, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, Parameter
from litestar.status_codes import HTTP_201_CREATED, HTTP_204_NO_CONTENT, HTTP_304_NOT_MODIFIED

from service.domain.apikeys import Scope
from service.domain.errors import (
    Forbidden,
    NameConflict,
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
    ProjectNotEmpty,
    UnsupportedMediaType,
    WriteContention,
)
from service.domain.projects import Project, ProjectCreate, ProjectPage, ProjectUpdate
from service.domain.projects.service import ProjectService
from service.http.controllers.params import AppSettings, PageSize, PageToken, Req
from service.http.head import get_and_head
from service.http.middleware.auth import access_of
from service.http.preconditions import (
    ETAG_HEADER,
    NOT_MODIFIED,
    IfMatch,
    IfNoneMatch,
    etag,
    if_match,
    not_modified,
)
from service.http.problems import NoContentOperation, responses

Projects = NamedDependency[ProjectService]
ProjectName = Annotated[str, Parameter(description="the project's name")]
ADMIN = {"scope": Scope.ADMIN.value}  # an admin key; the service refuses a restricted one
_CHANGE_ERRORS = (
    Forbidden, NotFound, PreconditionFailed, PreconditionRequired, WriteContention,
)  # fmt: skip


class ProjectController(Controller):
    """Projects: every key reads those it may see; an unrestricted admin key manages them."""

    path = "/api/v1/projects"
    tags = ["projects"]
    security = [{"ApiKey": []}]

    @post(
        "/",
        operation_id="CreateProject",
        summary="Create a project (an admin key for every project)",
        status_code=HTTP_201_CREATED,
        responses=responses(Forbidden, NameConflict, UnsupportedMediaType),
        response_headers=[ETAG_HEADER],
        opt=ADMIN,
    )
    async def create_project(
        self, request: Req, data: JSONBody[ProjectCreate], project_service: Projects
    ) -> Response[Project]:
        """Create a project; 201 with Location and ETag."""
        project = await project_service.create_project(data, access_of(request.scope))
        headers = {"Location": f"{self.path}/{project.name}", **etag(project)}
        return Response(project, status_code=HTTP_201_CREATED, headers=headers)

    @get_and_head(
        "/",
        operation_id="ListProjects",
        summary="The projects this key may see, by name, in pages",
        responses=responses(),
    )
    async def list_projects(
        self,
        request: Req,
        project_service: Projects,
        page_size: PageSize = 50,
        page_token: PageToken = None,
    ) -> ProjectPage:
        """One page of projects, each with its quota and usage."""
        access = access_of(request.scope)
        return await project_service.list_projects(page_size, page_token, access)

    @get_and_head(
        "/{name:str}",
        operation_id="GetProject",
        summary="Get one project, with its quota and usage",
        responses=responses(NotFound) | NOT_MODIFIED,
        response_headers=[ETAG_HEADER],
    )
    async def get_project(
        self,
        request: Req,
        name: ProjectName,
        project_service: Projects,
        if_none_match: IfNoneMatch = None,
    ) -> Response[Project]:
        """One project, with its ETag (304 while If-None-Match names it)."""
        project = await project_service.get_project(name, access_of(request.scope))
        if not_modified(if_none_match, project.revision):
            return Response(None, status_code=HTTP_304_NOT_MODIFIED, headers=etag(project))  # type: ignore[arg-type]
        return Response(project, headers=etag(project))

    @patch(
        "/{name:str}",
        operation_id="UpdateProject",
        summary="Change a project's description or quota (JSON Merge Patch)",
        description="A quota below the usage is allowed: from then on only writes that do not "
        "raise usage pass. The name never changes.",
        responses=responses(*_CHANGE_ERRORS, UnsupportedMediaType),
        response_headers=[ETAG_HEADER],
        opt=ADMIN,
    )
    async def update_project(
        self,
        request: Req,
        name: ProjectName,
        data: JSONBody[ProjectUpdate],
        project_service: Projects,
        settings: AppSettings,
        if_match_header: IfMatch = None,
    ) -> Response[Project]:
        """Apply a merge patch."""
        expected = if_match(if_match_header, settings.require_if_match)
        access = access_of(request.scope)
        project = await project_service.update_project(name, data, expected, access)
        return Response(project, headers=etag(project))

    @delete(
        "/{name:str}",
        operation_id="DeleteProject",
        summary="Delete an empty project",
        description="409 `project-not-empty` while it holds any VM, live or deleted and still "
        "restorable, and always for `default`.",
        status_code=HTTP_204_NO_CONTENT,
        operation_class=NoContentOperation,
        responses=responses(*_CHANGE_ERRORS, ProjectNotEmpty),
        opt=ADMIN,
    )
    async def delete_project(
        self,
        request: Req,
        name: ProjectName,
        project_service: Projects,
        settings: AppSettings,
        if_match_header: IfMatch = None,
    ) -> Response[None]:
        """Delete a project holding no VM."""
        expected = if_match(if_match_header, settings.require_if_match)
        await project_service.delete_project(name, expected, access_of(request.scope))
        return Response(None, status_code=HTTP_204_NO_CONTENT)
