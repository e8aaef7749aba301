"""API keys: scopes, tokens and their hashes, and what authentication needs from key storage."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import datetime
from enum import StrEnum
from typing import Protocol

import msgspec

from service.domain.errors import invalid

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
    """An API key as `apikey list` shows it (never the token); `projects`: the projects it is
    restricted to (None: every project)."""

    name: str
    scope: Scope
    created_at: datetime
    last_used_at: datetime | None = None
    projects: tuple[str, ...] | None = None


def new_token() -> str:
    """A fresh token: a prefix (for secret scanners) and 32 random bytes, URL-safe."""
    return TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> str:
    """SHA-256 of the token (tokens are high-entropy, so no slow KDF is needed)."""
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


def same_hash(a: str, b: str) -> bool:
    """Compare two hashes in constant time."""
    return hmac.compare_digest(a.encode(), b.encode())


def check_key_name(name: str) -> None:
    """Raise a 400 naming `name` unless it is a valid key name."""
    if not KEY_NAME_RE.fullmatch(name):
        raise invalid("name", f"must match {KEY_NAME_RE.pattern}")


class ApiKeyStore(Protocol):
    """What authentication needs from key storage (ApiKeyRepository)."""

    async def find(self, token: str) -> ApiKey | None:
        """The key whose token this is, or None."""

    async def touch(self, name: str, when: datetime) -> None:
        """Record that the key was used at `when`."""
