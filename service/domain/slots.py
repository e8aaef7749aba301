"""Slots for long-lived requests (watches, exports): at most so many per API key and per process.

One definition for every kind of stream: a request takes a slot before it starts and gives it
back when it ends, whatever ends it; past either limit it is refused (TooManyStreams, 429 with
Retry-After), so one key cannot take what every other caller needs.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from service.domain.errors import TooManyStreams

RETRY_AFTER_S = 5  # a stream ends in seconds (export) or is long-lived (watch): retry later


class Slot:
    """One held slot; `release` gives it back (once, however often it is called)."""

    __slots__ = ("_key", "_owner")

    def __init__(self, owner: Slots, key: str) -> None:
        """A slot of `owner` held for `key`."""
        self._owner: Slots | None = owner
        self._key = key

    def release(self) -> None:
        """Give the slot back; later calls do nothing."""
        owner, self._owner = self._owner, None
        if owner is not None:
            owner._free(self._key)


class Slots:
    """At most `per_key` held slots per key and `per_process` in all, for one kind of stream."""

    def __init__(self, kind: str, per_process: int, per_key: int) -> None:
        """Count `kind` (named in the refusal) against both limits."""
        self.kind = kind
        self.per_process = per_process
        self.per_key = per_key
        self.held = 0
        self.by_key: dict[str, int] = {}  # only keys holding a slot: bounded by per_process

    def acquire(self, key: str) -> Slot:
        """A slot for `key`, or TooManyStreams naming the limit it would pass."""
        mine = self.by_key.get(key, 0)
        if mine >= self.per_key:
            raise TooManyStreams(
                f"this API key already has {mine} {self.kind} open (at most {self.per_key} per "
                "key and process); end one or retry later",
                RETRY_AFTER_S,
            )
        if self.held >= self.per_process:
            raise TooManyStreams(
                f"this process already serves {self.held} {self.kind} (at most "
                f"{self.per_process}); retry later",
                RETRY_AFTER_S,
            )
        self.by_key[key] = mine + 1
        self.held += 1
        return Slot(self, key)

    @contextlib.contextmanager
    def holding(self, key: str) -> Iterator[Slot]:
        """A slot for `key` for the duration of the block."""
        slot = self.acquire(key)
        try:
            yield slot
        finally:
            slot.release()

    def _free(self, key: str) -> None:
        self.held -= 1
        left = self.by_key[key] - 1
        if left:
            self.by_key[key] = left
        else:
            del self.by_key[key]
