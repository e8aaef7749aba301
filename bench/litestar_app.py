"""Bare Litestar + msgspec + PyMongo async serving GetVM and ListVMs (the same JSON shape).

Minimal handlers: no auth, metrics, access log, problem+json or signed page tokens; the service's
VM Struct (times as datetimes), so the encoder does the same work. Served by
`python -m bench.serve litestar`.
"""

from __future__ import annotations

import base64
import os
from typing import Any

import msgspec
from bson import ObjectId
from bson.errors import InvalidId
from litestar import Litestar, get
from litestar.exceptions import NotFoundException
from pymongo import AsyncMongoClient

from bench.shapes import PlainVM as VM

FIELDS = [name for name in VM.__struct_fields__ if name != "id"]
client: AsyncMongoClient[dict[str, Any]]
client = AsyncMongoClient(os.environ["MONGODB_URL"], tz_aware=True, w="majority")
vms = client[os.environ["MONGODB_DB"]]["vms"]


class VMPage(msgspec.Struct, kw_only=True):
    """One page of VMs."""

    items: list[VM]
    next_page_token: str | None


def to_vm(doc: dict[str, Any]) -> VM:
    """Raw document to the response Struct."""
    doc["id"] = str(doc.pop("_id"))
    return msgspec.convert(doc, VM)


@get("/api/v1/vms/{vm_id:str}")
async def get_vm(vm_id: str) -> VM:
    """One VM by id."""
    try:
        doc = await vms.find_one({"_id": ObjectId(vm_id)}, FIELDS)
    except InvalidId:
        doc = None
    if doc is None:
        raise NotFoundException(f"no VM with id {vm_id!r}")
    return to_vm(doc)


@get("/api/v1/vms")
async def list_vms(page_size: int = 50) -> VMPage:
    """A page of VMs, newest first."""
    cursor = vms.find({}, FIELDS, limit=page_size + 1, sort=[("created_at", -1), ("_id", -1)])
    items = [to_vm(doc) async for doc in cursor]
    token = None
    if len(items) > page_size:
        items = items[:page_size]
        raw = msgspec.json.encode([items[-1].created_at, items[-1].id])
        token = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    return VMPage(items=items, next_page_token=token)


async def close() -> None:
    """Close the MongoDB client on shutdown."""
    await client.close()


app = Litestar([get_vm, list_vms], debug=False, logging_config=None, on_shutdown=[close])
