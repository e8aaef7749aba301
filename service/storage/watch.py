"""MongoDB's side of the watch: the `vms` change stream with pre- and post-images, tokens."""

from __future__ import annotations

from typing import Any

import pymongo
from bson import Timestamp
from pymongo.asynchronous.change_stream import AsyncChangeStream
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import OperationFailure, PyMongoError

from service.domain.errors import DatabaseUnavailable, WatchTokenExpired, invalid
from service.domain.watch.model import Change, Doc
from service.storage.errors import translate_errors
from service.storage.shielded import InOrder, shielded
from service.storage.stored import RECENT_EVENTS

Raw = dict[str, Any]
# ChangeStreamFatalError (the token's event is gone), ChangeStreamHistoryLost (oplog rolled over).
_EXPIRED_CODES = frozenset({280, 286})
_OPERATIONS = ["insert", "update", "replace", "delete", "invalidate"]
HUB_AWAIT_MS = 1000  # an idle stream's getMore returns after this; well inside MONGODB_TIMEOUT_MS
QUICK_AWAIT_MS = 100  # a catch-up cursor: "nothing more yet" is what it waits for
# A VM's recent events (service.storage.recent) are history, never a watched field: up to 16
# events in both images of every change would only cost the stream's bandwidth and memory.
_WITHOUT_HISTORY: Raw = {
    "$unset": [f"fullDocument.{RECENT_EVENTS}", f"fullDocumentBeforeChange.{RECENT_EVENTS}"]
}


def cluster_time_token(moment: Timestamp) -> str:
    """The watch token of a cluster time: a watch from it delivers every change at or after it."""
    return f"t{moment.time}.{moment.inc}"


def _image(document: Raw | None) -> Doc | None:
    """A stored VM image with its `_id` as the API's `id`."""
    if document is None:
        return None
    image = dict(document)
    image["id"] = str(image.pop("_id"))
    return image


class MongoChangeCursor:
    """One open change stream on `vms`; its reads and its close run one after another, each
    finished whatever happens to its caller (shielded: a cancelled watch never interrupts one)."""

    def __init__(self, stream: AsyncChangeStream[Raw], close_timeout_s: float | None) -> None:
        """Wrap an open stream; closing it may take `close_timeout_s`."""
        self.stream = stream
        self.close_timeout_s = close_timeout_s
        self.calls = InOrder()

    @property
    def token(self) -> str:
        """The resume point after everything returned so far."""
        resume = self.stream.resume_token
        assert resume is not None
        return str(resume["_data"])

    async def next(self) -> Change | None:
        """The next change, None after an idle wait; the driver resumes once on its own."""
        try:
            event = await self.calls.run(self.stream.try_next)
        except OperationFailure as exc:
            if exc.code in _EXPIRED_CODES:
                raise WatchTokenExpired(str(exc)) from exc
            raise
        if event is None:
            if not self.stream.alive:
                raise WatchTokenExpired("the change stream ended (vms dropped or renamed)")
            return None
        if event["operationType"] == "invalidate":  # `vms` dropped or renamed
            raise WatchTokenExpired("the vms collection was dropped")
        moment = event["clusterTime"]
        return Change(
            token=str(event["_id"]["_data"]),
            cluster_time=(moment.time, moment.inc),
            inserted=event["operationType"] == "insert",
            before=_image(event.get("fullDocumentBeforeChange")),
            after=_image(event.get("fullDocument")),
        )

    async def close(self) -> None:
        """Close the stream (killCursors), after the read in flight if any."""
        await self.calls.run(self._close)

    async def _close(self) -> None:
        with pymongo.timeout(self.close_timeout_s):
            await self.stream.close()


async def _close_stream(stream: AsyncChangeStream[Raw]) -> None:
    """Close a stream opened for a caller that went away meanwhile."""
    await stream.close()


class MongoChangeSource:
    """Change streams on `vms`: inserts, updates, replaces and deletes with both images."""

    def __init__(self, vms: AsyncCollection[Raw]) -> None:
        """Watch `vms`."""
        self.vms = vms

    @translate_errors
    async def now(self) -> str:
        """A resume point after every change committed so far: just after the operation time
        MongoDB answers a ping with (its latest applied write)."""
        reply = await self.vms.database.command("ping")
        moment: Timestamp = reply["operationTime"]
        return cluster_time_token(Timestamp(moment.time, moment.inc + 1))

    async def open(
        self, after: str | None, quick: bool = False, field: str = "resume_token"
    ) -> MongoChangeCursor:
        """A stream of the changes after `after` (None: from now); 410 when history is gone,
        400 naming `field` when MongoDB refuses `after` (checked by model.check_token first)."""
        options: Raw = {
            # Pre- and post-images (migration 0008): the states around each change, never a
            # later lookup. "whenAvailable": changes written before 0008 have none.
            "full_document": "whenAvailable",
            "full_document_before_change": "whenAvailable",
            "max_await_time_ms": QUICK_AWAIT_MS if quick else HUB_AWAIT_MS,
        }
        if after is not None and after.startswith("t"):
            seconds, _, increment = after[1:].partition(".")
            options["start_at_operation_time"] = Timestamp(int(seconds), int(increment))
        elif after is not None:
            options["resume_after"] = {"_data": after}
        pipeline = [{"$match": {"operationType": {"$in": _OPERATIONS}}}, _WITHOUT_HISTORY]
        try:
            stream = await shielded(self.vms.watch(pipeline, **options), _close_stream)
        except OperationFailure as exc:
            if exc.code in _EXPIRED_CODES:
                raise WatchTokenExpired(
                    "the resume token is older than the change history; list again, then watch "
                    "from the list's watch_token"
                ) from exc
            if after is not None and not exc.timeout:
                message = "MongoDB does not accept it as a resume point"
                raise invalid(field, message) from exc
            raise DatabaseUnavailable() from exc
        except PyMongoError as exc:
            raise DatabaseUnavailable() from exc
        return MongoChangeCursor(stream, self.vms.database.client.options.timeout)
