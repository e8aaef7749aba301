"""PyMongo async + msgspec against Beanie 2 for the same reads and writes: client CPU per op.

`scripts/bench --odm` (runs in an overlay with Beanie, which is not a project dependency):
get by id, a page of 50 (newest first) and insert, in-process against a mongod of its own. Both
sides end with the service's VM Struct (Beanie documents converted to it), so the difference is
what the ODM costs. Median of interleaved rounds; CPU time of this process only (the client).
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
from bson import ObjectId

from bench.shapes import PlainVM as VM
from service.domain.listing.keys import search_keys
from service.storage.migrations.runner import upgrade
from service.storage.mongod import LocalMongod, free_port

SEED = 1000
FIELDS = [name for name in VM.__struct_fields__ if name != "id"]
PROJECTION = dict.fromkeys(FIELDS, 1)
ORDER = [("created_at", -1), ("_id", -1)]
Op = Callable[[int], Awaitable[Any]]


def fields(name: str) -> dict[str, Any]:
    """A new VM's stored fields, with the service's search keys."""
    now = datetime.now(UTC).replace(microsecond=0)
    doc = {"name": name, "status": "running", "os": "debian-12", "cpu_cores": 2,
           "memory_mib": 2048, "storage_gib": 20, "ip_address": "10.0.0.5",
           "labels": {"env": "bench"}, "description": "", "revision": 1,
           "created_at": now, "updated_at": now}  # fmt: skip
    return doc | search_keys(doc)


def to_vm(doc: dict[str, Any]) -> VM:
    """Raw document to the Struct (as service.storage.vms does)."""
    doc["id"] = str(doc.pop("_id"))
    return msgspec.convert(doc, VM)


async def measure(url: str, rounds: int, ops: int) -> dict[str, dict[str, float]]:
    """Median client CPU us per op for each (operation, variant)."""
    os.environ["MONGODB_URL"], os.environ["MONGODB_DB"] = url, "odm"
    from beanie import init_beanie

    from bench.fastapi_beanie import VM as VMDocument
    from bench.fastapi_beanie import VMEvent, client

    db = client["odm"]
    await upgrade(db)
    await db.vms.insert_many([fields(f"seed-{i:05d}") for i in range(SEED)])
    ids = [doc["_id"] async for doc in db.vms.find({}, {"_id": 1})]
    await init_beanie(database=db, document_models=[VMDocument, VMEvent])

    def from_document(document: VMDocument) -> VM:
        return msgspec.convert(
            {**document.model_dump(include=set(FIELDS)), "id": str(document.id)}, VM
        )

    async def pymongo_get(i: int) -> VM:
        doc = await db.vms.find_one({"_id": ids[i % SEED]}, PROJECTION)
        assert doc is not None
        return to_vm(doc)

    async def beanie_get(i: int) -> VM:
        document = await VMDocument.get(ids[i % SEED])
        assert document is not None
        return from_document(document)

    async def pymongo_page(i: int) -> list[VM]:
        return [to_vm(doc) async for doc in db.vms.find({}, PROJECTION, sort=ORDER, limit=50)]

    async def beanie_page(i: int) -> list[VM]:
        found = await VMDocument.find_all().sort("-created_at", "-_id").limit(50).to_list()
        return [from_document(document) for document in found]

    async def pymongo_insert(i: int) -> VM:
        doc = {"_id": ObjectId(), **fields(f"pm-{ObjectId()}")}
        await db.vms.insert_one(doc)
        return to_vm(doc)

    async def beanie_insert(i: int) -> VM:
        document = VMDocument(**fields(f"bn-{ObjectId()}"))
        await document.insert()
        return from_document(document)

    cases: dict[str, dict[str, Op]] = {
        "get by id": {"pymongo + msgspec": pymongo_get, "beanie -> Struct": beanie_get},
        "page of 50": {"pymongo + msgspec": pymongo_page, "beanie -> Struct": beanie_page},
        "insert": {"pymongo + msgspec": pymongo_insert, "beanie -> Struct": beanie_insert},
    }
    samples: dict[str, dict[str, list[float]]] = {
        op: {variant: [] for variant in variants} for op, variants in cases.items()
    }
    for round_ in range(rounds + 1):  # round 0 warms up
        for op, variants in cases.items():
            order = list(variants.items())
            for variant, fn in order if round_ % 2 else reversed(order):
                count = ops // 5 if op == "insert" else ops
                begin = time.process_time()
                for i in range(count):
                    await fn(i)
                if round_:
                    micros = (time.process_time() - begin) * 1e6 / count
                    samples[op][variant].append(micros)
    await client.close()
    return {
        op: {variant: statistics.median(values) for variant, values in variants.items()}
        for op, variants in samples.items()
    }


def main(rounds: int = 5, ops: int = 1000) -> None:
    """Start a mongod of its own, measure, print the table."""
    import uvloop

    with tempfile.TemporaryDirectory(prefix="vm-odm-") as tmp:
        mongod = LocalMongod(Path(tmp) / "mongo", free_port())
        try:
            result = uvloop.run(measure(mongod.start(), rounds, ops))
        finally:
            mongod.stop()
    print(f"\nclient CPU per op in-process (median of {rounds} interleaved rounds):")
    for op, variants in result.items():
        base = variants["pymongo + msgspec"]
        for variant, micros in variants.items():
            print(f"  {op:11} {variant:18} {micros:7.0f} us  ({micros / base:.2f}x)")


if __name__ == "__main__":
    main()
