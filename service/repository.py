"""The only module that talks to MongoDB: VM storage, error translation, atomic writes."""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

import msgspec
from bson import ObjectId
from bson.errors import InvalidId
from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import ConnectionFailure, DuplicateKeyError, PyMongoError

from service.documents import VMS_COLLECTION
from service.errors import DatabaseUnavailable, NameConflict, NotFound, PreconditionFailed
from service.listing import ListQuery, search_keys
from service.schemas import VM

P = ParamSpec("P")
R = TypeVar("R")

Raw = dict[str, Any]


def translate_errors(
    fn: Callable[P, Coroutine[Any, Any, R]],
) -> Callable[P, Coroutine[Any, Any, R]]:
    """Turn driver errors meaning "MongoDB is unreachable or too slow" into DatabaseUnavailable."""

    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await fn(*args, **kwargs)
        except ConnectionFailure as exc:
            raise DatabaseUnavailable() from exc
        except PyMongoError as exc:
            if exc.timeout:
                raise DatabaseUnavailable() from exc
            raise

    return wrapper


def parse_id(vm_id: str) -> ObjectId:
    """Parse a VM id; a malformed one is simply an id no VM has."""
    try:
        return ObjectId(vm_id)
    except (InvalidId, TypeError):
        raise NotFound(f"no VM with id {vm_id!r}") from None


def page_queries(query: ListQuery) -> list[tuple[Raw, list[tuple[str, int]]]]:
    """The finds that make one page: after a token, first the rest of the tie group, then beyond.

    Each is a plain conjunction with one sort, so MongoDB bounds the scan on the compound index
    (filter field, sort key, _id) exactly; a single `$or` keyset loses those bounds once a
    filter has several values.
    """
    direction = DESCENDING if query.descending else ASCENDING
    sort = [(query.sort_field, direction), ("_id", direction)]
    if query.after is None:
        return [(query.filter, sort)]
    value, last_id = query.after
    beyond = "$lt" if query.descending else "$gt"
    tie = {query.sort_field: value, "_id": {beyond: parse_id(last_id)}}
    rest = {query.sort_field: {beyond: value}}
    return [(_and(query.filter, tie), sort), (_and(query.filter, rest), sort)]


def _and(base: Raw, extra: Raw) -> Raw:
    return {"$and": [base, extra]} if base else extra


def to_vm(doc: Raw) -> VM:
    """Convert a raw `vms` document into the API's VM."""
    doc["id"] = str(doc.pop("_id"))
    return msgspec.convert(doc, VM)


_PROJECTION = {
    field: 1
    for field in (
        "name", "status", "os", "cpu_cores", "memory_mib", "storage_gib",
        "ip_address", "labels", "description", "revision", "created_at", "updated_at",
    )
}  # fmt: skip


class VMRepository:
    """Stores VMs in the `vms` collection; every write is a single atomic operation."""

    def __init__(self, database: AsyncDatabase[Raw]) -> None:
        """Work on the `vms` collection of `database` (usable before Beanie is initialised)."""
        self.vms: AsyncCollection[Raw] = database.get_collection(VMS_COLLECTION)

    @translate_errors
    async def ping(self) -> None:
        """Raise DatabaseUnavailable unless MongoDB answers."""
        await self.vms.database.command("ping")

    @translate_errors
    async def create(self, fields: Raw) -> VM:
        """Insert a new VM; a taken name (ignoring case) raises NameConflict."""
        doc = {**fields, **search_keys(fields)}
        try:
            result = await self.vms.insert_one(doc)
        except DuplicateKeyError:
            raise NameConflict(f"a VM named {fields['name']!r} already exists") from None
        doc["_id"] = result.inserted_id
        return to_vm(doc)

    @translate_errors
    async def get_by_id(self, vm_id: str) -> VM:
        """Return the VM or raise NotFound."""
        doc = await self.vms.find_one({"_id": parse_id(vm_id)}, _PROJECTION)
        if doc is None:
            raise NotFound(f"no VM with id {vm_id!r}")
        return to_vm(doc)

    @translate_errors
    async def list(self, query: ListQuery) -> list[VM]:
        """Up to `query.limit` VMs in the query's order, starting after its keyset position."""
        items: list[VM] = []
        for mongo_filter, sort in page_queries(query):
            cursor = self.vms.find(
                mongo_filter, _PROJECTION, sort=sort, limit=query.limit - len(items)
            )
            items.extend([to_vm(doc) async for doc in cursor])
            if len(items) >= query.limit:
                break
        return items

    @translate_errors
    async def count(self, query: ListQuery) -> int:
        """How many VMs match the query's filter (its keyset position is ignored)."""
        if not query.filter:  # an index count instead of a collection scan
            return await self.vms.count_documents({}, hint="_id_")
        return await self.vms.count_documents(query.filter)

    @translate_errors
    async def update(self, vm_id: str, expected_revision: int, changes: Raw) -> VM:
        """Set `changes` if the VM is still at `expected_revision` (compare-and-set)."""
        oid = parse_id(vm_id)
        try:
            doc = await self.vms.find_one_and_update(
                {"_id": oid, "revision": expected_revision},
                {"$set": {**changes, **search_keys(changes)}, "$inc": {"revision": 1}},
                projection=_PROJECTION,
                return_document=ReturnDocument.AFTER,
            )
        except DuplicateKeyError:
            raise NameConflict(f"a VM named {changes.get('name')!r} already exists") from None
        if doc is None:
            await self._raise_missing_or_stale(oid, vm_id)
        assert doc is not None
        return to_vm(doc)

    @translate_errors
    async def delete(self, vm_id: str, expected_revision: int) -> None:
        """Delete the VM if it is still at `expected_revision`."""
        oid = parse_id(vm_id)
        result = await self.vms.delete_one({"_id": oid, "revision": expected_revision})
        if result.deleted_count == 0:
            await self._raise_missing_or_stale(oid, vm_id)

    async def _raise_missing_or_stale(self, oid: ObjectId, vm_id: str) -> None:
        current = await self.vms.find_one({"_id": oid}, {"revision": 1})
        if current is None:
            raise NotFound(f"no VM with id {vm_id!r}")
        revision = int(current["revision"])
        raise PreconditionFailed(f"the VM is at revision {revision}", current_revision=revision)
