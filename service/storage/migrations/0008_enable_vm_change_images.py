"""Keep pre- and post-images of `vms` changes, so WatchVMs sees each change's before and after."""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

# collMod is refused inside a transaction and idempotent, so it runs outside the runner's
# (`session` is unused on purpose).


async def up(db: AsyncDatabase[dict[str, Any]], session: AsyncClientSession | None) -> None:
    """Record every change's pre- and post-image (they expire with the oplog)."""
    await db.command({"collMod": "vms", "changeStreamPreAndPostImages": {"enabled": True}})


async def down(db: AsyncDatabase[dict[str, Any]], session: AsyncClientSession | None) -> None:
    """Stop recording images."""
    await db.command({"collMod": "vms", "changeStreamPreAndPostImages": {"enabled": False}})
