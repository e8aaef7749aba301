"""The VMs a run works on: seeded through the service, ReplaceVM bodies, DeleteVM pools; the
fields a target answers against the service's; MongoDB's transaction counts."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

import httpx
from bson import ObjectId
from pymongo import MongoClient

from bench.wrk import REPLACE_DESCRIPTION
from service.domain.schemas import WRITABLE_FIELDS

# ListVMs' watch_token (the page's snapshot, for WatchVMs): the other targets have no watch.
SERVICE_ONLY = {"watch_token"}
SEED = 10_000
VM_BODY = {"os": "ubuntu-24.04", "cpu_cores": 2, "memory_mib": 2048, "storage_gib": 20}


async def seed(base_url: str, headers: dict[str, str], count: int) -> list[dict[str, Any]]:
    """Create `count` VMs through the API, so they are stored as the service stores them; the
    VMs as the service answered."""
    vms: list[dict[str, Any]] = []
    queue = iter(range(count))
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=30) as client:

        async def worker() -> None:
            for i in queue:
                body = {**VM_BODY, "name": f"seed-{i:05d}", "labels": {"env": "bench"}}
                response = await client.post("/api/v1/vms", json=body)
                response.raise_for_status()
                vms.append(response.json())

        await asyncio.gather(*(worker() for _ in range(16)))
    return vms


def replace_line(vm: dict[str, Any]) -> str:
    """`id<TAB>ReplaceVM body` of a VM as the service answered it: its writable fields (the
    service's own list, whatever fields it gains), the description a placeholder."""
    body = {f: vm[f] for f in WRITABLE_FIELDS if f in vm and f != "description"}
    body["description"] = REPLACE_DESCRIPTION
    return f"{vm['id']}\t{json.dumps(body, separators=(',', ':'))}"


def delete_pool(url: str, db: str, template: dict[str, Any], count: int, path: Path) -> Path:
    """`count` new VMs for one DeleteVM run, copies of `template` (a stored VM document as the
    service wrote it at its create) under names of their own; their ids written to `path`."""
    tag = uuid.uuid4().hex[:8]
    docs: list[dict[str, Any]] = []
    for i in range(count):
        name = f"del-{tag}-{i:06d}"
        docs.append({**template, "_id": ObjectId(), "name": name, "name_key": name.lower()})
    client: MongoClient[dict[str, Any]] = MongoClient(url)
    with client:
        client[db]["vms"].insert_many(docs, ordered=False)
    path.write_text("".join(f"{d['_id']}\n" for d in docs))
    return path


def shape_gaps(service: set[str], other: set[str]) -> tuple[set[str], set[str]]:
    """(fields the other target lacks, fields only it has) against the service's answer."""
    return service - SERVICE_ONLY - other, other - service


def transaction_counts(url: str) -> dict[str, int]:
    """MongoDB's counts so far of transactions committed and aborted (an abort: a retry inside
    with_transaction, or a write that failed) and of write conflicts (serverStatus)."""
    client: MongoClient[dict[str, Any]] = MongoClient(url)
    with client:
        status = client.admin.command("serverStatus")
    txns, operation = status.get("transactions", {}), status["metrics"].get("operation", {})
    return {"committed": int(txns.get("totalCommitted", 0)),
            "aborted": int(txns.get("totalAborted", 0)),
            "write_conflicts": int(operation.get("writeConflicts", 0))}  # fmt: skip
