"""Beanie documents: the shapes stored in MongoDB, with explicit collection names."""

from __future__ import annotations

from datetime import datetime

from beanie import Document
from pydantic import Field

VMS_COLLECTION = "vms"


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


DOCUMENT_MODELS: list[type[Document]] = [VMDocument, ApiKeyDocument]
