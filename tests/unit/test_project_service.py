"""ProjectService over an in-memory store: who may manage projects, what a key sees, merge
patches, If-Match and the retries of a lost compare-and-set."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
import pytest

from service.domain.errors import (
    Forbidden,
    NameConflict,
    NotFound,
    PreconditionFailed,
    ProjectNotEmpty,
    ValidationFailed,
)
from service.domain.projects import (
    EVERY_PROJECT,
    Access,
    Project,
    ProjectCreate,
    ProjectUpdate,
    Quota,
    Usage,
)
from service.domain.projects.service import ProjectService
from service.domain.repository import StaleRevision
from service.domain.schemas import rfc3339

NOW = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)
RESTRICTED = Access(("team-a",))
Projects = list[Project]  # (inside FakeStore, `list` names the method)


class FakeStore:
    """Projects in a dict; `held` names projects holding a VM; `races` loses that many CASes."""

    def __init__(self) -> None:
        self.projects: dict[str, Project] = {}
        self.held: set[str] = set()
        self.races = 0

    async def create(self, data: ProjectCreate, now: datetime) -> Project:
        if data.name in self.projects:
            raise NameConflict(data.name)
        at = rfc3339(now)
        project = Project(
            name=data.name, description=data.description, quota=data.quota, usage=Usage(),
            revision=1, created_at=at, updated_at=at,
        )  # fmt: skip
        self.projects[data.name] = project
        return project

    async def get(self, name: str) -> Project:
        if name not in self.projects:
            raise NotFound(name)
        return self.projects[name]

    async def list(
        self, after: str | None, limit: int, among: tuple[str, ...] | None
    ) -> list[Project]:
        names = sorted(n for n in self.projects if (after is None or n > after))
        return [self.projects[n] for n in names if among is None or n in among][:limit]

    async def all(self) -> Projects:
        return [self.projects[n] for n in sorted(self.projects)]

    def _cas(self, name: str, revision: int) -> Project:
        current = self.projects[name]
        if self.races:
            self.races -= 1
            current = self.projects[name] = msgspec.structs.replace(
                current, revision=current.revision + 1
            )
        if current.revision != revision:
            raise StaleRevision(current.revision)
        return current

    async def update(
        self, name: str, revision: int, description: str, quota: Quota, now: datetime
    ) -> Project:
        current = self._cas(name, revision)
        updated = msgspec.structs.replace(
            current, description=description, quota=quota, revision=revision + 1,
            updated_at=rfc3339(now),
        )  # fmt: skip
        self.projects[name] = updated
        return updated

    async def delete(self, name: str, revision: int) -> None:
        if name in self.held:
            raise ProjectNotEmpty(name)
        self._cas(name, revision)
        del self.projects[name]


@pytest.fixture
async def service() -> ProjectService:
    service = ProjectService(FakeStore(), clock=lambda: NOW)
    for name in ("default", "team-a", "team-b"):
        await service.create_project(ProjectCreate(name=name))
    return service


async def test_a_restricted_key_never_manages_projects(service: ProjectService) -> None:
    with pytest.raises(Forbidden) as refused:
        await service.create_project(ProjectCreate(name="x"), RESTRICTED)
    assert refused.value.extra["errors"][0]["field"] == "Authorization"
    with pytest.raises(Forbidden):
        await service.update_project("team-a", ProjectUpdate(description="x"), None, RESTRICTED)
    with pytest.raises(Forbidden):
        await service.delete_project("team-a", None, RESTRICTED)
    assert (await service.get_project("team-a")).revision == 1


async def test_a_key_sees_only_its_projects(service: ProjectService) -> None:
    assert (await service.get_project("team-a", RESTRICTED)).name == "team-a"
    with pytest.raises(NotFound):
        await service.get_project("team-b", RESTRICTED)
    page = await service.list_projects(10, None, RESTRICTED)
    assert [p.name for p in page.items] == ["team-a"] and page.next_page_token is None
    every = await service.list_projects(10, None, EVERY_PROJECT)
    assert [p.name for p in every.items] == ["default", "team-a", "team-b"]


async def test_pages_follow_the_names(service: ProjectService) -> None:
    first = await service.list_projects(2)
    assert [p.name for p in first.items] == ["default", "team-a"]
    assert first.next_page_token is not None
    second = await service.list_projects(2, first.next_page_token)
    assert [p.name for p in second.items] == ["team-b"] and second.next_page_token is None
    with pytest.raises(ValidationFailed):
        await service.list_projects(2, first.next_page_token + "x")


async def test_update_merges_the_quota(service: ProjectService) -> None:
    await service.update_project("team-a", msgspec.convert({"quota": {"vms": 3}}, ProjectUpdate))
    patch = msgspec.json.decode(b'{"quota": {"cpu_cores": 8, "vms": null}}', type=ProjectUpdate)
    updated = await service.update_project("team-a", patch)
    assert updated.quota == Quota(cpu_cores=8) and updated.revision == 3
    same = await service.update_project("team-a", patch)  # nothing changes: no new revision
    assert same.revision == 3


async def test_if_match_and_lost_races(service: ProjectService) -> None:
    store = service.store
    assert isinstance(store, FakeStore)
    with pytest.raises(PreconditionFailed) as stale:
        await service.update_project("team-a", ProjectUpdate(description="x"), 7)
    assert stale.value.current_revision == 1
    store.races = 2  # without If-Match, a lost compare-and-set is retried
    retried = await service.update_project("team-a", ProjectUpdate(description="x"))
    assert retried.description == "x"
    store.races = 1  # with it, the client's revision is gone: 412
    current = (await service.get_project("team-a")).revision
    with pytest.raises(PreconditionFailed):
        await service.update_project("team-a", ProjectUpdate(description="y"), current)


async def test_delete_refuses_default_and_held_projects(service: ProjectService) -> None:
    with pytest.raises(ProjectNotEmpty):
        await service.delete_project("default")
    store = service.store
    assert isinstance(store, FakeStore)
    store.held.add("team-b")
    with pytest.raises(ProjectNotEmpty):
        await service.delete_project("team-b")
    await service.delete_project("team-a", 1)
    with pytest.raises(NotFound):
        await service.get_project("team-a")
