"""API key storage (the `api_keys` collection): only SHA-256 hashes of the tokens are kept."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import msgspec
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from service.errors import FieldError, NameConflict, NotFound, ValidationFailed
from service.repository import translate_errors

TOKEN_PREFIX = "vmi_"  # noqa: S105 - a marker for secret scanners, not a secret
TOKEN_BYTES = 32
KEY_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,62}")


class Scope(StrEnum):
    """What a key may do; each scope includes the ones before it."""

    READ = "read"
    WRITE = "write"
    ADMIN = "admin"


SCOPE_RANK = {Scope.READ: 0, Scope.WRITE: 1, Scope.ADMIN: 2}


class ApiKey(msgspec.Struct, kw_only=True):
    """An API key as `apikey list` shows it (never the token)."""

    name: str
    scope: Scope
    created_at: datetime
    last_used_at: datetime | None = None


def new_token() -> str:
    """A fresh token: a prefix (for secret scanners) and 32 random bytes, URL-safe."""
    return TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> str:
    """SHA-256 of the token (tokens are high-entropy, so no slow KDF is needed)."""
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


def same_hash(a: str, b: str) -> bool:
    """Compare two hashes in constant time."""
    return hmac.compare_digest(a.encode(), b.encode())


class ApiKeyRepository:
    """Stores API keys: name (unique), scope, token hash (unique), created_at, last_used_at."""

    def __init__(self, database: AsyncDatabase[dict[str, Any]]) -> None:
        """Work on the `api_keys` collection of `database`."""
        self.keys: AsyncCollection[dict[str, Any]] = database.get_collection("api_keys")

    @translate_errors
    async def create(self, name: str, scope: Scope) -> str:
        """Store a new key and return its token (the only time the token exists in clear)."""
        if not KEY_NAME_RE.fullmatch(name):
            message = f"must match {KEY_NAME_RE.pattern}"
            raise ValidationFailed(f"name: {message}", [FieldError("name", message)])
        token = new_token()
        doc = {
            "name": name,
            "scope": scope.value,
            "token_hash": hash_token(token),
            "created_at": datetime.now(UTC),
            "last_used_at": None,
        }
        try:
            await self.keys.insert_one(doc)
        except DuplicateKeyError:
            raise NameConflict(f"an API key named {name!r} already exists") from None
        return token

    @translate_errors
    async def find(self, token: str) -> ApiKey | None:
        """The key whose token this is, or None."""
        digest = hash_token(token)
        doc = await self.keys.find_one({"token_hash": digest})
        if doc is None or not same_hash(str(doc["token_hash"]), digest):
            return None
        return msgspec.convert(doc, ApiKey, from_attributes=False, strict=False)

    @translate_errors
    async def list(self) -> list[ApiKey]:
        """Every key, by name."""
        cursor = self.keys.find({}, {"token_hash": 0}).sort("name", 1)
        return [msgspec.convert(doc, ApiKey, strict=False) async for doc in cursor]

    @translate_errors
    async def revoke(self, name: str) -> None:
        """Delete the key named `name`; NotFound if there is none."""
        result = await self.keys.delete_one({"name": name})
        if result.deleted_count == 0:
            raise NotFound(f"no API key named {name!r}")

    @translate_errors
    async def matches(self, name: str, token: str) -> bool:
        """Whether the key `name` exists and `token` is its token."""
        doc = await self.keys.find_one({"name": name}, {"token_hash": 1})
        return doc is not None and same_hash(str(doc["token_hash"]), hash_token(token))

    @translate_errors
    async def touch(self, name: str, when: datetime) -> None:
        """Record that the key was used at `when`."""
        await self.keys.update_one({"name": name}, {"$set": {"last_used_at": when}})
