"""The floor: a bare ASGI app (no framework, no ODM) serving GetVM, ListVMs and the VM writes.

With FLOOR_TRANSACTION=1 (the `floor-txn` target) every write does the service's database work:
CreateVM the VM with its search keys and its `created` event in one majority-acknowledged
transaction; UpdateVM (merge patch), ReplaceVM and DeleteVM read the VM, then compare-and-set it
on its revision and insert its event in one such transaction (read again and retried when the
revision moved). With FLOOR_EVENTS=embedded (the `floor-embedded` target) those three instead
make one majority-acknowledged compare-and-set that also appends the event to a bounded array in
the VM document (issue 24's option; moving the events to `vm_events` later is not measured).
Served by `python -m bench.serve floor|floor-txn|floor-embedded`.
"""

from __future__ import annotations

import base64
import os
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

import msgspec
from bson import ObjectId
from pymongo import AsyncMongoClient, ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession

from service.domain.listing.keys import search_keys


class VMIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """CreateVM's body, checked the way the service checks it."""

    name: str
    project: str = "default"  # (the service's VMs all have one: its validator requires it)
    status: str = "provisioning"
    os: str
    cpu_cores: int
    memory_mib: int
    storage_gib: int
    ip_address: str | None = None
    labels: dict[str, str] = msgspec.field(default_factory=dict)
    description: str = ""


class ReplaceIn(VMIn, forbid_unknown_fields=False, kw_only=True):
    """ReplaceVM's body (fields the floor does not store, such as a project, are ignored)."""


class PatchIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True, omit_defaults=True):
    """UpdateVM's body, a JSON Merge Patch (null removes a label or clears the IP address)."""

    name: str | msgspec.UnsetType = msgspec.UNSET
    status: str | msgspec.UnsetType = msgspec.UNSET
    os: str | msgspec.UnsetType = msgspec.UNSET
    cpu_cores: int | msgspec.UnsetType = msgspec.UNSET
    memory_mib: int | msgspec.UnsetType = msgspec.UNSET
    storage_gib: int | msgspec.UnsetType = msgspec.UNSET
    ip_address: str | msgspec.UnsetType | None = msgspec.UNSET
    labels: dict[str, str | None] | msgspec.UnsetType = msgspec.UNSET
    description: str | msgspec.UnsetType = msgspec.UNSET


class VM(VMIn, kw_only=True):
    """A stored VM as returned."""

    id: str
    revision: int
    created_at: datetime
    updated_at: datetime


WRITABLE = VMIn.__struct_fields__
FIELDS = [*WRITABLE, "revision", "created_at", "updated_at"]
RETENTION = timedelta(days=30)
MAX_ATTEMPTS = 64
TRANSACTION = os.environ.get("FLOOR_TRANSACTION") == "1"
EMBEDDED = os.environ.get("FLOOR_EVENTS") == "embedded"
RECENT_EVENTS = 16  # the bounded array's length (floor-embedded)
client: AsyncMongoClient[dict[str, Any]]
client = AsyncMongoClient(os.environ["MONGODB_URL"], tz_aware=True, w="majority")
vms = client[os.environ["MONGODB_DB"]]["vms"]
events = client[os.environ["MONGODB_DB"]]["vm_events"]
encode = msgspec.json.Encoder().encode
decode = msgspec.json.Decoder(VMIn).decode
decode_replace = msgspec.json.Decoder(ReplaceIn).decode
decode_patch = msgspec.json.Decoder(PatchIn).decode
LIVE = {"deleted_at": {"$exists": False}}


def to_vm(doc: dict[str, Any]) -> VM:
    """Raw document to the response Struct."""
    doc["id"] = str(doc.pop("_id"))
    return msgspec.convert(doc, VM)


def event_of(action: str, revision: int, changes: dict[str, Any], now: datetime) -> dict[str, Any]:
    """A `vm_events` record (the VM's id is added by the write)."""
    return {"revision": revision, "action": action, "changes": changes, "timestamp": now,
            "actor": "bench", "request_id": uuid.uuid4().hex}  # fmt: skip


async def insert_with_event(doc: dict[str, Any]) -> None:
    """Insert the VM (with its search keys) and its `created` event in one transaction."""
    stored = doc | search_keys(doc)
    changes = {f: {"before": None, "after": doc[f]} for f in WRITABLE}
    event = {"vm_id": doc["_id"], **event_of("created", 1, changes, doc["created_at"])}

    async def work(session: AsyncClientSession) -> None:
        await vms.insert_one(stored, session=session)
        await events.insert_one(event, session=session)

    async with client.start_session() as session:
        await session.with_transaction(work)


async def set_with_event(
    oid: ObjectId, current: dict[str, Any], update: dict[str, Any], event: dict[str, Any]
) -> dict[str, Any] | None:
    """If the VM is still at `current`'s revision: apply `update` (its revision + 1) and insert
    `event`, in one transaction (or append it to the VM's bounded array of recent events, in the
    same single-document write); the VM after it, or None when the revision moved."""
    match = {"_id": oid, "revision": current["revision"], **LIVE}
    update = {**update, "$inc": {"revision": 1}}

    async def work(session: AsyncClientSession) -> dict[str, Any] | None:
        doc = await vms.find_one_and_update(
            match, update, FIELDS, return_document=ReturnDocument.AFTER, session=session
        )
        if doc is not None:
            await events.insert_one({**event, "vm_id": oid}, session=session)
        return doc

    if EMBEDDED:  # one write: the event rides in the VM document (its id is the VM's)
        pushed = {"recent_events": {"$each": [event], "$slice": -RECENT_EVENTS}}
        return await vms.find_one_and_update(
            match, {**update, "$push": pushed}, FIELDS, return_document=ReturnDocument.AFTER
        )
    async with client.start_session() as session:
        return await session.with_transaction(work)


def merged(current: dict[str, Any], data: PatchIn | ReplaceIn) -> dict[str, Any]:
    """The fields `data` changes in `current` (a patch merges labels, a replace sets all)."""
    given = {f: getattr(data, f, msgspec.UNSET) for f in WRITABLE}  # a patch lacks `project`
    desired = {f: v for f, v in given.items() if v is not msgspec.UNSET}
    if isinstance(data, PatchIn) and isinstance(data.labels, dict):
        labels = dict(current.get("labels", {}))
        for key, value in data.labels.items():
            if value is None:
                labels.pop(key, None)
            else:
                labels[key] = value
        desired["labels"] = labels
    return {f: v for f, v in desired.items() if current.get(f) != v}


async def write(vm_id: str, data: PatchIn | ReplaceIn | None) -> tuple[int, dict[str, Any] | None]:
    """Read, derive the change and its event, compare-and-set; retry while the revision moves.
    `data` None deletes (soft: deleted_at and purge_at set). (status, the VM after it)."""
    oid = ObjectId(vm_id)
    for _ in range(MAX_ATTEMPTS):
        current = await vms.find_one({"_id": oid, **LIVE}, FIELDS)
        if current is None:
            return 404, None
        now = datetime.now(UTC)
        revision = current["revision"] + 1
        if data is None:
            gone = {f: {"before": current.get(f), "after": None} for f in WRITABLE}
            purge_at = now + RETENTION
            event = {**event_of("deleted", revision, gone, now), "purge_at": purge_at}
            update = {"$set": {"deleted_at": now, "purge_at": purge_at, "updated_at": now}}
        else:
            changes = merged(current, data)
            if not changes:
                return 200, current
            diff = {f: {"before": current.get(f), "after": v} for f, v in changes.items()}
            event = event_of("updated", revision, diff, now)
            update = {"$set": {**changes, **search_keys(changes), "updated_at": now}}
        doc = await set_with_event(oid, current, update, event)
        if doc is not None:
            return (204, None) if data is None else (200, doc)
    return 409, None


async def reply(send: Any, status: int, body: bytes) -> None:
    """Send one JSON response."""
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def read_body(receive: Any) -> bytes:
    """The request's whole body."""
    body = b""
    while True:
        message = await receive()
        body += bytes(message.get("body", b""))
        if not message.get("more_body"):
            return body


async def change(send: Any, receive: Any, method: str, vm_id: str) -> None:
    """UpdateVM (PATCH), ReplaceVM (PUT) or DeleteVM (DELETE), transactional as the service's."""
    data: PatchIn | ReplaceIn | None = None
    try:
        if method == "PATCH":
            data = decode_patch(await read_body(receive))
        elif method == "PUT":
            data = decode_replace(await read_body(receive))
    except msgspec.DecodeError as exc:
        return await reply(send, 400, encode({"detail": str(exc)}))
    status, doc = await write(vm_id, data)
    return await reply(send, status, b"" if status == 204 else encode(doc and to_vm(doc)))


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Route by method and path; anything else is a 404."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await client.close()
        await send({"type": "lifespan.shutdown.complete"})
        return
    path, method = scope["path"].rstrip("/"), scope["method"]
    one = path.startswith("/api/v1/vms/") and ObjectId.is_valid(path[12:])
    if method == "GET" and one:
        doc = await vms.find_one({"_id": ObjectId(path[12:])}, FIELDS)
        return await reply(send, 404 if doc is None else 200, encode(doc and to_vm(doc)))
    if method in ("PATCH", "PUT", "DELETE") and one and (TRANSACTION or EMBEDDED):
        return await change(send, receive, method, path[12:])
    if method == "GET" and path == "/api/v1/vms":
        size = int(parse_qs(scope["query_string"].decode()).get("page_size", ["50"])[0])
        cursor = vms.find({}, FIELDS, limit=size + 1).sort([("created_at", -1), ("_id", -1)])
        items = [to_vm(doc) async for doc in cursor]
        token = None
        if len(items) > size:
            items = items[:size]
            raw = encode([items[-1].created_at, items[-1].id])
            token = base64.urlsafe_b64encode(raw).decode().rstrip("=")
        return await reply(send, 200, encode({"items": items, "next_page_token": token}))
    if method == "POST" and path == "/api/v1/vms":
        try:
            data = decode(await read_body(receive))
        except msgspec.DecodeError as exc:
            return await reply(send, 400, encode({"detail": str(exc)}))
        now = datetime.now(UTC).replace(microsecond=0)
        doc = {**msgspec.structs.asdict(data), "revision": 1, "created_at": now, "updated_at": now}
        doc["_id"] = ObjectId()
        await (insert_with_event(doc) if TRANSACTION else vms.insert_one(doc))
        return await reply(send, 201, encode(to_vm(doc)))
    return await reply(send, 404, b'{"detail": "not found"}')
