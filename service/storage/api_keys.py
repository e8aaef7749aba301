"""API key storage (the `api_keys` collection): only SHA-256 hashes of the tokens are kept."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import msgspec
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from service.domain.apikeys import (
    ApiKey,
    Scope,
    check_key_name,
    hash_token,
    new_token,
    same_hash,
)
from service.domain.errors import NameConflict, NotFound
from service.storage.errors import translate_errors
from service.storage.shielded import in_transaction
from service.storage.stored import (
    API_KEYS_COLLECTION,
    IDEMPOTENCY_COLLECTION,
    PROJECTS_COLLECTION,
)


class ApiKeyRepository:
    """Stores API keys: name (unique), scope, token hash (unique), created_at, last_used_at."""

    def __init__(self, database: AsyncDatabase[dict[str, Any]]) -> None:
        """Work on the `api_keys` collection of `database`."""
        self.keys: AsyncCollection[dict[str, Any]] = database.get_collection(API_KEYS_COLLECTION)
        self.projects: AsyncCollection[dict[str, Any]] = database.get_collection(
            PROJECTS_COLLECTION
        )
        self.idempotency: AsyncCollection[dict[str, Any]] = database.get_collection(
            IDEMPOTENCY_COLLECTION
        )

    @translate_errors
    async def create(self, name: str, scope: Scope, projects: Sequence[str] | None = None) -> str:
        """Store a new key and return its token (the only time the token exists in clear);
        `projects` restricts it to those (each must exist: NotFound naming the first missing
        one), None lets it see every project."""
        check_key_name(name)
        token = new_token()
        doc: dict[str, Any] = {
            "name": name,
            "scope": scope.value,
            "token_hash": hash_token(token),
            "created_at": datetime.now(UTC),
            "last_used_at": None,
        }
        if projects is not None:
            doc["projects"] = list(dict.fromkeys(projects))
        client = self.keys.database.client
        try:
            await in_transaction(
                client, lambda session: self._insert(doc, session), client.options.timeout
            )
        except DuplicateKeyError:
            raise NameConflict(f"an API key named {name!r} already exists") from None
        return token

    async def _insert(self, doc: dict[str, Any], session: AsyncClientSession) -> None:
        """Inside a transaction: insert the key, restricted to `doc["projects"]` if given (each
        must exist: NotFound naming the first missing one), and drop the Idempotency-Keys a
        revoked key of the same name left (they are scoped by name): a key re-created under it
        must never replay them, which could show VMs of projects it may not see."""
        if "projects" in doc:
            await self._grant(doc["projects"], session)
        await self.keys.insert_one(doc, session=session)
        await self.idempotency.delete_many({"scope": doc["name"]}, session=session)

    async def _grant(self, wanted: list[str], session: AsyncClientSession) -> None:
        """Write each of `wanted` (`keys_granted`), so a DeleteProject racing the key's insert
        conflicts and one of them retries and sees the other; NotFound naming the first one
        missing."""
        granted = await self.projects.update_many(
            {"_id": {"$in": wanted}}, {"$inc": {"keys_granted": 1}}, session=session
        )
        if granted.matched_count != len(wanted):
            found = set(
                await self.projects.distinct("_id", {"_id": {"$in": wanted}}, session=session)
            )
            missing = next(p for p in wanted if p not in found)
            raise NotFound(f"no project named {missing!r}")

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
