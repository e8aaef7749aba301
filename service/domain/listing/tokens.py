"""Page tokens: opaque, HMAC-signed, bound to the filters and sort order that made them."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec

from service.domain.errors import invalid

TOKEN_VERSION = 1
_MAC_BYTES = 16
_SORT_TYPES: dict[str, type] = {"created_at": datetime, "name_key": str}  # others are ints


@dataclass(frozen=True)
class Cursor:
    """Where the previous page ended: last sort key and id; `ties`: the next VM shared the key."""

    value: Any
    id: str
    ties: bool = True


class PageTokens:
    """Signs and checks page tokens: HMAC-SHA256 over (version, binding, last sort key, last id)."""

    def __init__(self, secret: str | bytes | None = None) -> None:
        """Sign with `secret`; without one, a random per-process secret (single process only)."""
        if isinstance(secret, str):
            secret = secret.encode()
        self._secret = secret or secrets.token_bytes(32)

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._secret, payload, hashlib.sha256).digest()[:_MAC_BYTES]

    def encode(self, binding: str, value: Any, vm_id: str, ties: bool = True) -> str:
        """A token pointing just after the item with sort key `value` and id `vm_id`."""
        payload = msgspec.json.encode([TOKEN_VERSION, binding, value, vm_id, ties])
        return base64.urlsafe_b64encode(payload + self._mac(payload)).decode().rstrip("=")

    def decode(
        self,
        token: str,
        binding: str,
        sort_field: str,
        foreign: str = "other filters or another sort order",
    ) -> Cursor:
        """Check the signature and that the token was made for this walk (`binding`: filters
        and sort for ListVMs, the VM for ListVMEvents); `foreign` says what a mismatch means."""
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (binascii.Error, ValueError):
            raise invalid("page_token", "not a page token this service issued") from None
        payload, mac = raw[:-_MAC_BYTES], raw[-_MAC_BYTES:]
        canonical = base64.urlsafe_b64encode(raw).decode().rstrip("=") == token
        # (canonical: base64's unused low bits in the last character must not vary either)
        if (
            not canonical
            or len(raw) <= _MAC_BYTES
            or not hmac.compare_digest(mac, self._mac(payload))
        ):
            raise invalid("page_token", "not a page token this service issued (or altered)")
        version, bound_to, value, vm_id, ties = msgspec.json.decode(payload)
        if version != TOKEN_VERSION:
            raise invalid("page_token", "this page token has expired; start from the first page")
        if bound_to != binding:
            raise invalid("page_token", f"this page token belongs to {foreign}")
        kind = _SORT_TYPES.get(sort_field, int)
        return Cursor(msgspec.convert(value, kind, strict=False), str(vm_id), bool(ties))
