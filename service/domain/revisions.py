"""Revisions and If-Match: the revisions a write accepts, and its 412 when the current one is
not among them (VMs and projects alike)."""

from __future__ import annotations

from collections.abc import Collection

from service.domain.errors import PreconditionFailed

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
