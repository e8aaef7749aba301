"""Project storage: `projects` (_id = name) with each project's usage in the UsageLedger; every
write of a project commits with its ledger change in one transaction."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

import msgspec
from pymongo import ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from service.domain.errors import NameConflict, NotFound, ProjectNotEmpty
from service.domain.projects import RESOURCES, Project, ProjectCreate, Quota, Usage
from service.domain.repository import StaleRevision
from service.domain.rules import utcnow
from service.domain.schemas import rfc3339
from service.storage.errors import translate_errors
from service.storage.shielded import in_transaction, shielded
from service.storage.stored import (
    API_KEYS_COLLECTION,
    PROJECTS_COLLECTION,
    VMS_COLLECTION,
    unexpired,
)
from service.storage.usage import UsageLedger

Raw = dict[str, Any]
R = TypeVar("R")
Projects = list[Project]  # (inside ProjectRepository, `list` names the method)


def _project(doc: Raw, usage: Usage | None) -> Project:
    """A `projects` document and its usage as the API's Project."""
    return Project(
        name=doc["_id"],
        description=doc["description"],
        quota=msgspec.convert(doc["quota"], Quota),
        usage=usage or Usage(),
        revision=int(doc["revision"]),
        created_at=rfc3339(doc["created_at"]),
        updated_at=rfc3339(doc["updated_at"]),
    )


def _live_usage(match: Raw) -> list[Raw]:
    """What the live VMs matching `match` use, summed per project."""
    sums = {r: {"$sum": f"${r}"} for r in RESOURCES[1:]}
    return [
        {"$match": {**match, "deleted_at": None}},
        {"$group": {"_id": "$project", "vms": {"$sum": 1}, **sums}},
    ]


def _missing(name: str) -> NotFound:
    return NotFound(f"no project named {name!r}")


class ProjectRepository:
    """Stores projects; their usage and quota check live in the UsageLedger (`ledger`)."""

    def __init__(self, database: AsyncDatabase[Raw]) -> None:
        """Work on `projects`, `project_usage`, `vms` (to tell an empty project) and `api_keys`
        (the keys restricted to a deleted project lose it)."""
        self.projects: AsyncCollection[Raw] = database.get_collection(PROJECTS_COLLECTION)
        self.keys: AsyncCollection[Raw] = database.get_collection(API_KEYS_COLLECTION)
        self.vms: AsyncCollection[Raw] = database.get_collection(VMS_COLLECTION)
        self.ledger = UsageLedger(database)

    async def _transaction(self, work: Callable[[AsyncClientSession], Awaitable[R]]) -> R:
        client = self.projects.database.client
        return await in_transaction(client, work, client.options.timeout)

    async def _snapshot(self, find: Raw, limit: int = 0) -> Projects:
        """The projects matching `find`, by name, with their usage, read from one snapshot."""

        async def read() -> Projects:
            client = self.projects.database.client
            async with client.start_session(snapshot=True) as session:
                cursor = self.projects.find(find, sort=[("_id", 1)], limit=limit, session=session)
                docs = await cursor.to_list()
                usage = await self.ledger.usage([d["_id"] for d in docs], session)
            return [_project(d, usage.get(d["_id"])) for d in docs]

        return await shielded(read())

    @translate_errors
    async def create(self, data: ProjectCreate, now: datetime) -> Project:
        """Insert the project and open its ledger (nothing used) in one transaction; a taken
        name -> NameConflict."""
        doc: Raw = {
            "_id": data.name,
            "description": data.description,
            "quota": msgspec.to_builtins(data.quota),
            "revision": 1,
            "created_at": now,
            "updated_at": now,
        }

        async def work(session: AsyncClientSession) -> None:
            await self.projects.insert_one(doc, session=session)
            await self.ledger.open(session, data.name, data.quota)

        try:
            await self._transaction(work)
        except DuplicateKeyError:
            raise NameConflict(f"a project named {data.name!r} already exists") from None
        return _project(doc, Usage())

    @translate_errors
    async def get(self, name: str) -> Project:
        """The project with its usage (one snapshot); NotFound when there is none."""
        found = await self._snapshot({"_id": name}, limit=1)
        if not found:
            raise _missing(name)
        return found[0]

    @translate_errors
    async def list(self, after: str | None, limit: int, among: tuple[str, ...] | None) -> Projects:
        """Up to `limit` projects by name after `after`, only those `among` (None: all)."""
        name: Raw = {}
        if after is not None:
            name["$gt"] = after
        if among is not None:
            name["$in"] = list(among)
        return await self._snapshot({"_id": name} if name else {}, limit=limit)

    @translate_errors
    async def update(
        self, name: str, revision: int, description: str, quota: Quota, now: datetime
    ) -> Project:
        """Set description and quota if the project is at `revision`, spreading the new quota
        over its ledger in the same transaction."""
        update = {
            "$set": {
                "description": description,
                "quota": msgspec.to_builtins(quota),
                "updated_at": now,
            },
            "$inc": {"revision": 1},
        }

        async def work(session: AsyncClientSession) -> Project | None:
            doc = await self.projects.find_one_and_update(
                {"_id": name, "revision": revision},
                update,
                return_document=ReturnDocument.AFTER,
                session=session,
            )
            if doc is None:
                return None
            await self.ledger.requota(session, name, quota)
            usage = await self.ledger.usage([name], session)
            return _project(doc, usage.get(name))

        done = await self._transaction(work)
        if done is None:
            await self._missing_or_stale(name)
        assert done is not None
        return done

    @translate_errors
    async def delete(self, name: str, revision: int) -> None:
        """In one transaction: refuse while the project holds a VM (live or restorable), else
        remove it at `revision`, close its ledger and take it from every key restricted to it
        (a project created later under its name is not theirs). A VM write racing it writes a
        ledger shard this removes, so one of them conflicts and retries (and then sees the
        other)."""

        async def work(session: AsyncClientSession) -> bool:
            held = {"project": name, **unexpired(utcnow())}
            if await self.vms.count_documents(held, limit=1, session=session):
                raise ProjectNotEmpty(
                    f"project {name!r} still holds VMs (live, or deleted and still restorable); "
                    "delete or purge them first"
                )
            gone = await self.projects.delete_one(
                {"_id": name, "revision": revision}, session=session
            )
            if not gone.deleted_count:
                return False
            await self.ledger.close(session, name)
            await self.keys.update_many(
                {"projects": name}, {"$pull": {"projects": name}}, session=session
            )
            return True

        if not await self._transaction(work):
            await self._missing_or_stale(name)

    async def _missing_or_stale(self, name: str) -> None:
        """After a compare-and-set matched nothing: NotFound, or StaleRevision."""
        current = await self.projects.find_one({"_id": name}, {"revision": 1})
        if current is None:
            raise _missing(name)
        raise StaleRevision(int(current["revision"]))

    @translate_errors
    async def all(self) -> Projects:
        """Every project with its usage (one snapshot): what the metrics publish."""
        return await self._snapshot({})

    @translate_errors
    async def counted(self, session: AsyncClientSession | None = None) -> dict[str, Usage]:
        """What each project's live VMs use, counted from `vms` (projects without one left
        out)."""
        docs = await (await self.vms.aggregate(_live_usage({}), session=session)).to_list()
        return {d.pop("_id"): Usage(**{r: int(d[r]) for r in RESOURCES}) for d in docs}

    @translate_errors
    async def stored_and_counted(self) -> tuple[dict[str, Usage], dict[str, Usage]]:
        """Each project's usage in the ledger and `counted`, read from one snapshot (a write in
        flight is in both or in neither): what `project recount` compares."""

        async def read() -> tuple[dict[str, Usage], dict[str, Usage]]:
            client = self.projects.database.client
            async with client.start_session(snapshot=True) as session:
                cursor = self.projects.find({}, {"_id": 1}, session=session)
                names = [d["_id"] for d in await cursor.to_list()]
                stored = await self.ledger.usage(names, session)
                stored = {name: stored.get(name, Usage()) for name in names}
                return stored, await self.counted(session)

        return await shielded(read())

    @translate_errors
    async def recount(self, name: str) -> tuple[Usage, Usage]:
        """In one transaction: count the project's live VMs and set its usage to that count;
        (what the ledger held, the count). A VM write racing it charges a shard this rewrites,
        so one of them conflicts and retries."""

        async def work(session: AsyncClientSession) -> tuple[Usage, Usage]:
            pipeline = _live_usage({"project": name})
            docs = await (await self.vms.aggregate(pipeline, session=session)).to_list()
            counted = Usage(**{r: int(docs[0][r]) for r in RESOURCES}) if docs else Usage()
            before = await self.ledger.recount(session, name, counted)
            return before, counted

        return await self._transaction(work)
