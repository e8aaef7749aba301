"""The one slot limiter of long-lived requests: per key, then per process, freed once."""

from __future__ import annotations

import pytest

from service.domain.errors import TooManyStreams
from service.domain.slots import Slots


def test_a_key_gets_its_share_and_the_process_its_total() -> None:
    slots = Slots("exports", per_process=3, per_key=2)
    a1, a2 = slots.acquire("a"), slots.acquire("a")
    with pytest.raises(TooManyStreams, match="this API key") as refused:
        slots.acquire("a")
    assert int(refused.value.headers["Retry-After"]) > 0
    slots.acquire("b")
    with pytest.raises(TooManyStreams, match="this process"):
        slots.acquire("c")
    a1.release()
    a1.release()  # again: nothing more is freed
    slots.acquire("c")
    with pytest.raises(TooManyStreams, match="this process"):
        slots.acquire("d")
    a2.release()
    assert slots.by_key == {"b": 1, "c": 1} and slots.held == 2


def test_holding_gives_the_slot_back_whatever_ends_the_block() -> None:
    slots = Slots("watches", per_process=1, per_key=1)
    with pytest.raises(RuntimeError), slots.holding("a"):
        raise RuntimeError("the export failed")
    with slots.holding("a"), pytest.raises(TooManyStreams):
        slots.acquire("b")
    assert slots.held == 0 and slots.by_key == {}
