"""Project usage and quotas in `project_usage`: exact under any concurrency, never a global lock.

A project's usage is split over SHARDS counter documents, each with a share of the quota (its
`allow`, null for no limit) and the quota itself (`limit`). A write changes one shard (the next
of a round each process takes from a random start) inside the write's own transaction, on the
condition that the shard's share still has room for what it raises: the write and its usage
change commit together or not at all, so usage always equals a recount of the live VMs (after
crashes and failovers too), and writers into one project rarely touch the same document. What a
write frees leaves its shard's share too, so no shard ever has more room than the quota left
when it was last spread. A shard without room spreads the project's spare quota again: it reads
every shard and writes every shard in the same transaction, so any writer racing it on any shard
conflicts with it, and one of them retries (MongoDB's snapshot isolation, with the driver's
transaction retries). The quota is exceeded when the spread finds no room.

Invariant: every shard's room (allow - used) is at least 0 after a spread within the quota, and
at most 0 on every shard after a spread past it (a quota lowered below the usage); a write never
adds room; so the usage passes the quota only by a spread, which checks the whole project.
"""

from __future__ import annotations

import itertools
import random
from typing import Any

from pymongo import UpdateOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from service.domain.errors import NotFound, QuotaExceeded, invalid
from service.domain.projects import RESOURCES, Quota, Usage, UsageChange
from service.storage.stored import PROJECT_USAGE_COLLECTION, usage_shard_id

Raw = dict[str, Any]
Limits = dict[str, int | None]
SHARDS = 64
"""More shards than a process has writes in flight (32 connections at c32): writes in flight at
once take distinct shards, so they do not conflict (with 16 random ones, over half of the
creates' transactions at c32 were aborted and retried)."""


def _room(resource: str, amount: int) -> Raw:
    """The condition that a shard's share of `resource` still holds `amount` more."""
    allow, used = f"$allow.{resource}", f"$used.{resource}"
    return {"$or": [{"$eq": [allow, None]}, {"$lte": [{"$add": [used, amount]}, allow]}]}


def _apply(delta: dict[str, int]) -> list[Raw]:
    """The update of a shard by `delta`: its usage moves; what it frees leaves its share too."""
    moved: Raw = {}
    for resource, amount in delta.items():
        used, allow = f"used.{resource}", f"allow.{resource}"
        moved[used] = {"$add": [f"${used}", amount]}
        if amount < 0:
            moved[allow] = {
                "$cond": [{"$eq": [f"${allow}", None]}, None, {"$add": [f"${allow}", amount]}]
            }
    return [{"$set": moved}]


def _spread(used: list[dict[str, int]], limits: Limits) -> list[dict[str, int | None]]:
    """Each shard's share, summing to the quota: what it uses now plus an even part of the spare;
    past the quota, no room on any shard (the first takes the whole excess)."""
    shares: list[dict[str, int | None]] = [{} for _ in used]
    for resource in RESOURCES:
        limit = limits.get(resource)
        spare = 0 if limit is None else limit - sum(u[resource] for u in used)
        part, rest = divmod(spare, len(used)) if spare >= 0 else (0, 0)
        for i, (share, own) in enumerate(zip(shares, used, strict=True)):
            room = part + (i < rest) if spare >= 0 else (spare if i == 0 else 0)
            share[resource] = None if limit is None else own[resource] + room
    return shares


def _limits(quota: Quota) -> Limits:
    return {r: getattr(quota, r) for r in RESOURCES}


def _zero() -> dict[str, int]:
    return dict.fromkeys(RESOURCES, 0)


class UsageLedger:
    """Every project's usage, and the quota check of every write that changes it."""

    def __init__(self, database: AsyncDatabase[Raw]) -> None:
        """Work on `project_usage` of `database`."""
        self.shards: AsyncCollection[Raw] = database.get_collection(PROJECT_USAGE_COLLECTION)
        # Round robin from a random start (another process starts elsewhere); a retried
        # transaction takes the next shard.
        self._turns = itertools.count(random.randrange(SHARDS))  # noqa: S311 - not security

    async def charge(self, session: AsyncClientSession, change: UsageChange) -> None:
        """Inside a write's transaction: apply its usage change, or raise QuotaExceeded (which
        ends that transaction), or a 400 naming `project` when the project does not exist."""
        if not change:
            return
        shard = next(self._turns) % SHARDS
        match: Raw = {"_id": usage_shard_id(change.project, shard)}
        if raises := change.raises:
            match["$expr"] = {"$and": [_room(r, n) for r, n in raises.items()]}
        delta = {r: n for r, n in change.delta.items() if n}
        done = await self.shards.update_one(match, _apply(delta), session=session)
        if not done.matched_count:
            try:
                await self._spread_and_charge(session, change, shard)
            except NotFound:
                raise invalid("project", f"no project is named {change.project!r}") from None

    async def _spread_and_charge(
        self, session: AsyncClientSession, change: UsageChange, shard: int
    ) -> None:
        """The chosen shard had no room: check the whole project, then spread its spare
        quota again with the change applied (writing every shard; see the module)."""
        used, limits = await self._read(session, change.project)
        totals = {r: sum(u[r] for u in used) for r in RESOURCES}
        for resource, amount in change.raises.items():
            limit = limits[resource]
            if limit is not None and totals[resource] + amount > limit:
                raise QuotaExceeded(change.project, resource, limit, totals[resource], amount)
        for resource, amount in change.delta.items():
            used[shard][resource] += amount
        await self._write(session, change.project, used, limits)

    async def _read(
        self, session: AsyncClientSession | None, project: str
    ) -> tuple[list[dict[str, int]], Limits]:
        """Every shard's usage (by shard number) and the project's limits."""
        docs = await self.shards.find({"project": project}, session=session).to_list()
        if len(docs) != SHARDS:
            raise NotFound(f"no project named {project!r}")
        docs.sort(key=lambda d: d["shard"])
        used = [{r: int(d["used"][r]) for r in RESOURCES} for d in docs]
        return used, {r: docs[0]["limit"][r] for r in RESOURCES}

    async def _write(
        self,
        session: AsyncClientSession,
        project: str,
        used: list[dict[str, int]],
        limits: Limits,
    ) -> None:
        """Set every shard's usage and share (all of them: see the module)."""
        shares = _spread(used, limits)
        await self.shards.bulk_write(
            [
                UpdateOne(
                    {"_id": usage_shard_id(project, i)},
                    # `spreads` moves on every shard: a $set leaving a shard as it was is no
                    # write, and then no conflict with a writer that charged it meanwhile.
                    {
                        "$set": {"used": used[i], "allow": shares[i], "limit": limits},
                        "$inc": {"spreads": 1},
                    },
                )
                for i in range(SHARDS)
            ],
            ordered=False,
            session=session,
        )

    async def open(self, session: AsyncClientSession, project: str, quota: Quota) -> None:
        """Inside a project's creation: its shards, nothing used."""
        used = [_zero() for _ in range(SHARDS)]
        limits = _limits(quota)
        shares = _spread(used, limits)
        await self.shards.insert_many(
            [
                {
                    "_id": usage_shard_id(project, i),
                    "project": project,
                    "shard": i,
                    "used": used[i],
                    "allow": shares[i],
                    "limit": limits,
                }
                for i in range(SHARDS)
            ],
            session=session,
        )

    async def requota(self, session: AsyncClientSession, project: str, quota: Quota) -> None:
        """Inside a quota change: spread the new quota over the shards (a quota below the usage
        is allowed: then only writes that raise nothing pass)."""
        used, _ = await self._read(session, project)
        await self._write(session, project, used, _limits(quota))

    async def close(self, session: AsyncClientSession, project: str) -> None:
        """Inside a project's deletion: remove its shards (a write racing it conflicts)."""
        await self.shards.delete_many({"project": project}, session=session)

    async def usage(
        self, projects: list[str], session: AsyncClientSession | None = None
    ) -> dict[str, Usage]:
        """Each project's usage, summed from one snapshot (missing projects left out)."""
        pipeline: list[Raw] = [
            {"$match": {"project": {"$in": projects}}},
            {"$group": {"_id": "$project", **{r: {"$sum": f"$used.{r}"} for r in RESOURCES}}},
        ]
        if session is not None:
            docs = await (await self.shards.aggregate(pipeline, session=session)).to_list()
        else:
            client = self.shards.database.client
            async with client.start_session(snapshot=True) as snapshot:
                cursor = await self.shards.aggregate(pipeline, session=snapshot)
                docs = await cursor.to_list()
        return {d.pop("_id"): Usage(**d) for d in docs}

    async def recount(self, session: AsyncClientSession, project: str, counted: Usage) -> Usage:
        """Inside a transaction that counted the project's live VMs: set its usage to
        `counted`, keeping its quota; return what it held before."""
        used, limits = await self._read(session, project)
        before = Usage(**{r: sum(u[r] for u in used) for r in RESOURCES})
        fixed = [_zero() for _ in range(SHARDS)]
        fixed[0] = {r: getattr(counted, r) for r in RESOURCES}
        await self._write(session, project, fixed, limits)
        return before
