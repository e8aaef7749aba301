"""A typical FastAPI + Beanie 2 + pydantic app of GetVM, ListVMs, CreateVM and UpdateVM, on uvicorn.

What users would write: Document models, `VM.get(id)`, `find().sort().limit()`, `insert()`,
pydantic request/response models. CreateVM is what such an app does: one `await vm.insert()`
(with the search keys the service stores, majority-acknowledged like the service's writes; no
history). UpdateVM too: `VM.get(id)`, the merge patch applied, `await vm.set({...})` of the
changed fields (their search keys, updated_at and the revision with them; no history, no
compare-and-set). Not a project dependency: run in an overlay, `uv run --frozen --with
'beanie>=2,<3' --with fastapi --with 'uvicorn[standard]' python -m bench.fastapi_beanie`
(scripts/bench does); settings from MONGODB_URL, MONGODB_DB, PORT.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, Literal

from beanie import Document, PydanticObjectId, init_beanie
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, ConfigDict, Field
from pymongo import AsyncMongoClient

from service.domain.listing.keys import search_keys

Status = Literal["provisioning", "running", "stopped", "suspended", "error"]


class VMFields(BaseModel):
    """The writable fields of a VM."""

    name: str = Field(
        min_length=1, max_length=63, pattern=r"^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$"
    )
    project: str = "default"  # (the service's VMs all have one: its validator requires it)
    status: Status = "provisioning"
    os: str = Field(min_length=1, max_length=64)
    cpu_cores: int = Field(ge=1, le=1024)
    memory_mib: int = Field(ge=128, le=33554432)
    storage_gib: int = Field(ge=1, le=1048576)
    ip_address: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    description: str = Field(default="", max_length=1024)


class VMIn(VMFields):
    """CreateVM's body."""

    model_config = ConfigDict(extra="forbid")


class VMPatch(BaseModel):
    """UpdateVM's body, a JSON Merge Patch (null removes a label)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(
        default=None, min_length=1, max_length=63,
        pattern=r"^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$",
    )  # fmt: skip
    status: Status | None = None
    os: str | None = Field(default=None, min_length=1, max_length=64)
    cpu_cores: int | None = Field(default=None, ge=1, le=1024)
    memory_mib: int | None = Field(default=None, ge=128, le=33554432)
    storage_gib: int | None = Field(default=None, ge=1, le=1048576)
    ip_address: str | None = None
    labels: dict[str, str | None] | None = None
    description: str | None = Field(default=None, max_length=1024)


class VMOut(VMFields):
    """A VM as returned."""

    id: str
    revision: int
    created_at: datetime
    updated_at: datetime


class VMPage(BaseModel):
    """One page of VMs."""

    items: list[VMOut]
    next_page_token: str | None


class VM(Document, VMFields):
    """A VM in `vms`, with the search keys the service stores beside it."""

    revision: int = 1
    created_at: datetime
    updated_at: datetime
    name_key: str | None = None
    label_terms: list[str] = Field(default_factory=list)
    ip_key: str | None = None

    class Settings:
        name = "vms"


OUT = set(VMOut.model_fields) - {"id"}
client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
    os.environ["MONGODB_URL"], tz_aware=True, w="majority"
)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Initialise Beanie on startup; close the client on shutdown."""
    await init_beanie(database=client[os.environ["MONGODB_DB"]], document_models=[VM])
    yield
    await client.close()


app = FastAPI(lifespan=lifespan)


def out(vm: VM) -> VMOut:
    """The response model of a stored VM."""
    return VMOut(id=str(vm.id), **vm.model_dump(include=OUT))


@app.get("/api/v1/vms/{vm_id}", response_model=VMOut)
async def get_vm(vm_id: PydanticObjectId) -> VMOut:
    """One VM by id."""
    vm = await VM.get(vm_id)
    if vm is None:
        raise HTTPException(status_code=404, detail=f"no VM with id {vm_id}")
    return out(vm)


@app.get("/api/v1/vms", response_model=VMPage)
async def list_vms(page_size: int = 50) -> VMPage:
    """A page of VMs, newest first."""
    found = await VM.find_all().sort(-VM.created_at, -VM.id).limit(page_size + 1).to_list()  # type: ignore[operator]
    items = [out(vm) for vm in found[:page_size]]
    token = None
    if len(found) > page_size:
        raw = json.dumps([items[-1].created_at.isoformat(), items[-1].id]).encode()
        token = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    return VMPage(items=items, next_page_token=token)


@app.post("/api/v1/vms", response_model=VMOut, status_code=201)
async def create_vm(body: VMIn) -> VMOut:
    """Create a VM: one insert."""
    now = datetime.now(UTC).replace(microsecond=0)
    fields = body.model_dump()
    vm = VM(**fields, **search_keys(fields), created_at=now, updated_at=now)
    await vm.insert()
    return out(vm)


@app.patch("/api/v1/vms/{vm_id}", response_model=VMOut)
async def update_vm(vm_id: PydanticObjectId, patch: VMPatch) -> VMOut:
    """Apply a merge patch: read the VM, set what changed."""
    vm = await VM.get(vm_id)
    if vm is None:
        raise HTTPException(status_code=404, detail=f"no VM with id {vm_id}")
    given = patch.model_dump(exclude_unset=True)
    if (labels := given.pop("labels", None)) is not None:
        merged = dict(vm.labels)
        for key, value in labels.items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = value
        given["labels"] = merged
    changes = {k: v for k, v in given.items() if getattr(vm, k) != v}
    if changes:
        now = datetime.now(UTC).replace(microsecond=0)
        await vm.set({**changes, **search_keys(changes), "updated_at": now,
                      "revision": vm.revision + 1})  # fmt: skip
    return out(vm)


if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=int(os.environ.get("PORT", "8000")))
