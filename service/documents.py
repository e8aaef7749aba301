"""Beanie documents: the shapes stored in MongoDB, with explicit collection names."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from beanie import Document, PydanticObjectId
from pydantic import BaseModel, Field

VMS_COLLECTION = "vms"
VM_EVENTS_COLLECTION = "vm_events"
IDEMPOTENCY_COLLECTION = "idempotency_keys"


class VMDocument(Document):
    """A virtual machine as stored in the `vms` collection (indexes come from migrations)."""

    name: str
    status: str
    os: str
    cpu_cores: int
    memory_mib: int
    storage_gib: int
    ip_address: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    description: str = ""
    revision: int = 1
    created_at: datetime
    updated_at: datetime

    class Settings:
        name = VMS_COLLECTION


class ApiKeyDocument(Document):
    """An API key in `api_keys`: only the SHA-256 of its token (indexes come from migrations)."""

    name: str
    scope: str
    token_hash: str
    created_at: datetime
    last_used_at: datetime | None = None

    class Settings:
        name = "api_keys"


class VMEventDocument(Document):
    """One entry of a VM's change history in `vm_events` (written in the change's transaction)."""

    vm_id: PydanticObjectId
    revision: int
    action: str
    changes: dict[str, dict[str, Any]]
    timestamp: datetime
    actor: str
    request_id: str

    class Settings:
        name = VM_EVENTS_COLLECTION


class StoredResponseModel(BaseModel):
    """The first response to an idempotency key."""

    status: int
    body: bytes
    headers: dict[str, str]


class IdempotencyKeyDocument(Document):
    """A claimed Idempotency-Key in `idempotency_keys` (unique per scope and key, 24 h TTL)."""

    scope: str
    key: str
    fingerprint: str
    created_at: datetime
    locked_at: datetime
    response: StoredResponseModel | None = None
    lease: str = ""  # the claim's holder: only it may store the response

    class Settings:
        name = IDEMPOTENCY_COLLECTION


DOCUMENT_MODELS: list[type[Document]] = [
    VMDocument,
    ApiKeyDocument,
    VMEventDocument,
    IdempotencyKeyDocument,
]
