"""Long-lived responses (WatchVMs, ExportVMs) keep checking their API key while they run.

Authentication looks at the start of a request only; a stream may last for days. Every open
stream is held here by its token, and every `interval_s` (API_KEY_CACHE_SECONDS, at least
MIN_INTERVAL_S) each distinct token is looked up in MongoDB again, past the verifier's cache:
the streams of a key that is gone are ended, so a revoked key stops receiving data within about
the time it takes to stop working for requests.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Any

from litestar import Request

from service.http.middleware.auth import KeyVerifier, bearer_token

log = logging.getLogger("service.auth")
MIN_INTERVAL_S = 1.0  # with API_KEY_CACHE_SECONDS=0: a look-up per key and second at most
KEY_GONE = "the API key was revoked while the stream ran"


class StreamCutShort(Exception):
    """A response ended before its end because its key is gone: the connection is closed without
    the body's last chunk, so the client sees an incomplete answer, never a short complete one."""


class StreamKeys:
    """The tokens of the open streams of this process, looked up again every `interval_s`."""

    def __init__(self, verifier: KeyVerifier, interval_s: float) -> None:
        """Look keys up with `verifier` every `interval_s` (at least MIN_INTERVAL_S)."""
        self.verifier = verifier
        self.interval_s = max(interval_s, MIN_INTERVAL_S)
        self._ends: dict[str, set[Callable[[], None]]] = {}  # token -> each stream's end
        self._task: asyncio.Task[None] | None = None
        self._closed = asyncio.Event()

    async def guard(
        self,
        request: Request[Any, Any, Any],
        chunks: AsyncIterator[bytes],
        end: Callable[[], None] | None = None,
    ) -> AsyncGenerator[bytes]:
        """`chunks`, with the request's key held while they are sent. When the key is gone,
        `end` is called (once) and must make `chunks` finish soon (WatchVMs: a final ERROR
        event); without `end` the response is cut short before its next chunk (StreamCutShort)."""
        header = request.headers.get("authorization")
        token = bearer_token(header.encode("latin-1") if header else None)
        gone = False

        def key_gone() -> None:
            nonlocal gone
            gone = True
            if end is not None:
                end()

        if token is not None:
            self._hold(token, key_gone)
        try:
            async for chunk in chunks:
                if gone and end is None:
                    raise StreamCutShort(KEY_GONE)
                yield chunk
        finally:
            if token is not None:
                self._release(token, key_gone)
            aclose = getattr(chunks, "aclose", None)
            if aclose is not None:
                await aclose()

    def _hold(self, token: str, end: Callable[[], None]) -> None:
        self._ends.setdefault(token, set()).add(end)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="stream-keys")

    def _release(self, token: str, end: Callable[[], None]) -> None:
        ends = self._ends.get(token)
        if ends is not None:
            ends.discard(end)
            if not ends:
                del self._ends[token]

    async def _run(self) -> None:
        """Every interval, look each held token up; end the streams of the ones gone. Stops
        when no stream is held (the next one starts it again) or on close()."""
        while self._ends and not self._closed.is_set():
            try:
                await asyncio.wait_for(self._closed.wait(), self.interval_s)
                return
            except TimeoutError:
                pass
            for token in list(self._ends):
                await self.check(token)

    async def check(self, token: str) -> None:
        """Look `token` up now; end its streams if no key has it. MongoDB failing ends nothing
        (the key may well be valid)."""
        try:
            caller = await self.verifier.recheck(token)
        except Exception as exc:
            log.warning("could not check the API key of an open stream: %s", exc)
            return
        if caller is None:
            for end in list(self._ends.pop(token, ())):
                end()

    async def close(self) -> None:
        """Stop checking (after a look-up in progress completes: never cut one short)."""
        self._closed.set()
        if self._task is not None:
            await self._task
