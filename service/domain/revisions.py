"""Revisions and If-Match: the revisions a write accepts, its 412 when the current one is not
among them, and what a lost compare-and-set means (VMs and projects alike)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Collection

from service.domain.errors import PreconditionFailed
from service.domain.repository import StaleRevision

IfMatch = int | Collection[int] | None  # the revisions a write accepts; None accepts any


def check_if_match(revision: int, if_match: IfMatch, what: str) -> None:
    """412 naming the current revision unless `if_match` accepts `revision` (of `what`)."""
    if if_match is None:
        return
    expected = {if_match} if isinstance(if_match, int) else set(if_match)
    if revision not in expected:
        wanted = " or ".join(str(r) for r in sorted(expected)) or "a different one"
        raise PreconditionFailed(
            f"the {what} is at revision {revision}, not {wanted}", current_revision=revision
        )


async def after_lost(lost: StaleRevision, if_match: IfMatch, what: str) -> None:
    """After a lost compare-and-set: the client's 412 when it sent If-Match (the revision it
    expected is gone), else a short random pause before the caller reads and tries again."""
    if if_match is not None:
        raise PreconditionFailed(
            f"the {what} is at revision {lost.current_revision}",
            current_revision=lost.current_revision,
        ) from None
    await asyncio.sleep(random.uniform(0, 0.005))  # noqa: S311 - jitter, not security
