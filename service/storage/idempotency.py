"""Idempotency keys in `idempotency_keys`: claim, take over, complete and release atomically."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from service.domain.errors import IdempotencyKeyInFlight
from service.domain.idempotency import KeyRecord, StoredResponse
from service.storage.errors import translate_errors
from service.storage.stored import IDEMPOTENCY_COLLECTION

Raw = dict[str, Any]


class IdempotencyRepository:
    """Idempotency keys in `idempotency_keys`: unique per (scope, key), removed by a TTL index."""

    def __init__(self, database: AsyncDatabase[Raw]) -> None:
        """Work on `idempotency_keys` of `database`."""
        self.keys: AsyncCollection[Raw] = database.get_collection(IDEMPOTENCY_COLLECTION)

    @translate_errors
    async def claim(
        self,
        scope: str,
        key: str,
        fingerprint: str,
        lease: str,
        now: datetime,
        expired_before: datetime,
    ) -> KeyRecord | None:
        """Claim the key by inserting it (the unique index decides), else return its record."""
        for _ in range(3):
            try:
                await self.keys.insert_one(
                    {"scope": scope, "key": key, "fingerprint": fingerprint, "lease": lease,
                     "created_at": now, "locked_at": now, "response": None}
                )  # fmt: skip
                return None
            except DuplicateKeyError:
                doc = await self.keys.find_one({"scope": scope, "key": key}, {"_id": 0})
            if doc is None:
                continue  # it expired just now: claim again
            if doc["created_at"] < expired_before:  # the TTL monitor runs only once a minute
                await self.keys.delete_one(
                    {"scope": scope, "key": key, "created_at": doc["created_at"]}
                )
                continue
            return msgspec.convert(doc, KeyRecord)
        raise IdempotencyKeyInFlight("the idempotency key keeps changing hands; retry shortly")

    @translate_errors
    async def take_over(
        self, scope: str, key: str, locked_at: datetime, lease: str, now: datetime
    ) -> bool:
        """Re-claim an abandoned key (still unfinished and locked at `locked_at`) under `lease`."""
        result = await self.keys.update_one(
            {"scope": scope, "key": key, "locked_at": locked_at, "response": None},
            {"$set": {"locked_at": now, "lease": lease}},
        )
        return result.modified_count == 1

    @translate_errors
    async def complete(
        self,
        scope: str,
        key: str,
        lease: str,
        response: StoredResponse,
        session: AsyncClientSession | None = None,
    ) -> bool:
        """Store the first response of a key still held under `lease`; False if it is not."""
        result = await self.keys.update_one(
            {"scope": scope, "key": key, "lease": lease, "response": None},
            {"$set": {"response": msgspec.to_builtins(response)}},
            session=session,
        )
        return result.matched_count == 1

    @translate_errors
    async def release(self, scope: str, key: str, lease: str) -> None:
        """Forget an unfinished claim held under `lease`."""
        await self.keys.delete_one({"scope": scope, "key": key, "lease": lease, "response": None})
