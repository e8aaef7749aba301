"""The floor: a bare ASGI app (no framework, no ODM) serving GetVM, ListVMs and CreateVM.

With FLOOR_TRANSACTION=1 (the `floor-txn` target) CreateVM does the service's database work:
the VM with its search keys and its `created` event, in one majority-acknowledged transaction.
Served by `python -m bench.serve floor|floor-txn`.
"""

from __future__ import annotations

import base64
import os
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import msgspec
from bson import ObjectId
from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession

from service.domain.listing.keys import search_keys


class VMIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """CreateVM's body, checked the way the service checks it."""

    name: str
    status: str = "provisioning"
    os: str
    cpu_cores: int
    memory_mib: int
    storage_gib: int
    ip_address: str | None = None
    labels: dict[str, str] = msgspec.field(default_factory=dict)
    description: str = ""


class VM(VMIn, kw_only=True):
    """A stored VM as returned."""

    id: str
    revision: int
    created_at: datetime
    updated_at: datetime


FIELDS = [*VMIn.__struct_fields__, "revision", "created_at", "updated_at"]
TRANSACTION = os.environ.get("FLOOR_TRANSACTION") == "1"
client: AsyncMongoClient[dict[str, Any]]
client = AsyncMongoClient(os.environ["MONGODB_URL"], tz_aware=True, w="majority")
vms = client[os.environ["MONGODB_DB"]]["vms"]
events = client[os.environ["MONGODB_DB"]]["vm_events"]
encode = msgspec.json.Encoder().encode
decode = msgspec.json.Decoder(VMIn).decode


def to_vm(doc: dict[str, Any]) -> VM:
    """Raw document to the response Struct."""
    doc["id"] = str(doc.pop("_id"))
    return msgspec.convert(doc, VM)


async def insert_with_event(doc: dict[str, Any]) -> None:
    """Insert the VM (with its search keys) and its `created` event in one transaction."""
    stored = doc | search_keys(doc)
    changes = {f: {"before": None, "after": doc[f]} for f in VMIn.__struct_fields__}
    event = {
        "vm_id": doc["_id"], "revision": 1, "action": "created", "changes": changes,
        "timestamp": doc["created_at"], "actor": "bench", "request_id": uuid.uuid4().hex,
    }  # fmt: skip

    async def work(session: AsyncClientSession) -> None:
        await vms.insert_one(stored, session=session)
        await events.insert_one(event, session=session)

    async with client.start_session() as session:
        await session.with_transaction(work)


async def reply(send: Any, status: int, body: bytes) -> None:
    """Send one JSON response."""
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Route by method and path; anything else is a 404."""
    if scope["type"] == "lifespan":
        while (message := await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await client.close()
        await send({"type": "lifespan.shutdown.complete"})
        return
    path, method = scope["path"].rstrip("/"), scope["method"]
    if method == "GET" and path.startswith("/api/v1/vms/") and ObjectId.is_valid(path[12:]):
        doc = await vms.find_one({"_id": ObjectId(path[12:])}, FIELDS)
        return await reply(send, 404 if doc is None else 200, encode(doc and to_vm(doc)))
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
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        try:
            data = decode(body)
        except msgspec.DecodeError as exc:
            return await reply(send, 400, encode({"detail": str(exc)}))
        now = datetime.now(UTC).replace(microsecond=0)
        doc = {**msgspec.structs.asdict(data), "revision": 1, "created_at": now, "updated_at": now}
        doc["_id"] = ObjectId()
        await (insert_with_event(doc) if TRANSACTION else vms.insert_one(doc))
        return await reply(send, 201, encode(to_vm(doc)))
    return await reply(send, 404, b'{"detail": "not found"}')
