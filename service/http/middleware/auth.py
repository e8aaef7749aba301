"""Bearer-token authentication (API keys) and the scope check for every /api route."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from litestar.exceptions import (
    NotAuthorizedException,
    PermissionDeniedException,
    TooManyRequestsException,
)
from litestar.handlers.base import BaseRouteHandler
from litestar.types import Scope as ASGIScope

from service.domain.apikeys import SCOPE_RANK, ApiKey, ApiKeyStore, Scope, hash_token
from service.domain.projects import EVERY_PROJECT, Access

log = logging.getLogger("service.auth")

API_PREFIX = "/api/"
TOUCH_EVERY_S = 60.0
MAX_CACHED = 10_000
MAX_FAILURES_PER_MINUTE = 60  # unknown tokens per client address before its failures get 429
FAILED_TOKEN_SECONDS = 60.0  # a token that failed is answered from memory this long
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="vm-inventory"'}


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling: the API key's name, scope and projects (`request.scope["user"]`)."""

    name: str
    scope: Scope
    projects: tuple[str, ...] | None = None  # None: every project

    @property
    def access(self) -> Access:
        """The projects the key may read and write."""
        return EVERY_PROJECT if self.projects is None else Access(self.projects)

    @classmethod
    def of(cls, key: ApiKey) -> Caller:
        """The caller holding `key`."""
        return cls(key.name, key.scope, key.projects)


def caller_name(scope: Mapping[str, Any]) -> str | None:
    """The name of the API key the request was authenticated with, if it was."""
    user = scope.get("user")
    return user.name if isinstance(user, Caller) else None


def access_of(scope: Mapping[str, Any]) -> Access:
    """The projects the request's API key may see (every project without a key)."""
    user = scope.get("user")
    return user.access if isinstance(user, Caller) else EVERY_PROJECT


@dataclass(slots=True)
class _Cached:
    caller: Caller
    expires: float
    touched: float


class KeyVerifier:
    """Turns a token into a Caller, caching verified keys for `cache_seconds` in-process.

    A revoked key therefore keeps working for at most `cache_seconds` in each process.
    `last_used_at` is written at most once per TOUCH_EVERY_S per key, off the request path.

    Guessing is throttled without ever refusing a valid token: a token that failed is remembered
    (by hash, for FAILED_TOKEN_SECONDS) and answered without asking MongoDB again; a client
    address past MAX_FAILURES_PER_MINUTE unknown tokens has its lookups run one at a time and
    its failures answered 429, while its valid tokens are still verified and accepted.
    """

    def __init__(self, cache_seconds: float) -> None:
        """Cache verified keys for `cache_seconds` (0 asks MongoDB every time)."""
        self.cache_seconds = cache_seconds
        self.repo: ApiKeyStore | None = None
        self._cache: dict[str, _Cached] = {}
        self._failed: dict[str, float] = {}  # token hash -> until when it is known unknown
        self._tasks: set[asyncio.Task[None]] = set()
        self._failures: dict[str, tuple[int, int]] = {}  # client -> (minute, unknown tokens)
        self._gates: dict[str, asyncio.Lock] = {}  # one lookup at a time per throttled client

    async def verify(self, token: str, client: str = "") -> Caller | None:
        """The caller owning `token`, or None when no key has it (429 once `client` guessed
        MAX_FAILURES_PER_MINUTE unknown tokens this minute; a valid token is never refused)."""
        digest = hash_token(token)
        now = time.monotonic()
        cached = self._cache.get(digest)
        if cached is not None and cached.expires > now:
            if now - cached.touched >= TOUCH_EVERY_S:
                cached.touched = now
                self._touch(cached.caller.name)
            return cached.caller
        if self._failed.get(digest, 0.0) > now:
            self._fail(digest, client, now)
            return None
        if self._throttled(client):
            gate = self._gates.get(client)
            if gate is None:
                if len(self._gates) >= MAX_CACHED:
                    self._gates = {c: g for c, g in self._gates.items() if g.locked()}
                gate = self._gates[client] = asyncio.Lock()
            async with gate:
                return await self._look_up(token, digest, client)
        return await self._look_up(token, digest, client)

    async def recheck(self, token: str) -> Caller | None:
        """Ask MongoDB whether `token` still has a key, whatever the cache says (an open
        stream's periodic check); a key gone leaves the cache too."""
        assert self.repo is not None, "KeyVerifier.repo is set by the lifespan"
        key = await self.repo.find(token)
        if key is None:
            self._cache.pop(hash_token(token), None)
            return None
        return Caller.of(key)

    async def _look_up(self, token: str, digest: str, client: str) -> Caller | None:
        assert self.repo is not None, "KeyVerifier.repo is set by the lifespan"
        key = await self.repo.find(token)
        now = time.monotonic()
        if key is None:
            self._cache.pop(digest, None)
            self._fail(digest, client, now)
            return None
        caller = Caller.of(key)
        if self.cache_seconds > 0:
            if len(self._cache) >= MAX_CACHED:
                self._cache.clear()
            self._cache[digest] = _Cached(caller, now + self.cache_seconds, now)
        self._touch(key.name)
        return caller

    def _throttled(self, client: str) -> bool:
        window, failures = self._failures.get(client, (-1, 0))
        return window == int(time.time() // 60) and failures >= MAX_FAILURES_PER_MINUTE

    def _fail(self, digest: str, client: str, now: float) -> None:
        """Remember a failed token and count it against `client`; 429 past the limit."""
        if len(self._failed) >= MAX_CACHED:
            self._failed.clear()
        self._failed[digest] = now + FAILED_TOKEN_SECONDS
        minute = int(time.time() // 60)
        window, failures = self._failures.get(client, (minute, 0))
        failures = failures + 1 if window == minute else 1
        if len(self._failures) >= MAX_CACHED:
            self._failures.clear()
        self._failures[client] = (minute, failures)
        if failures > MAX_FAILURES_PER_MINUTE:
            retry = str(60 - int(time.time()) % 60)
            raise TooManyRequestsException(
                detail="too many invalid API keys from this address; retry later",
                headers={"Retry-After": retry},
            )

    def _touch(self, name: str) -> None:
        """Record last_used_at in the background; a failure only costs a stale timestamp."""
        task = asyncio.get_running_loop().create_task(self._write_touch(name))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _write_touch(self, name: str) -> None:
        assert self.repo is not None
        try:
            await self.repo.touch(name, datetime.now(UTC))
        except Exception as exc:  # a stale last_used_at must never fail anything
            log.warning("could not record last_used_at for key %s: %s", name, exc)

    async def drain(self) -> None:
        """Wait for pending last_used_at writes (before the client closes)."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


def bearer_token(header: bytes | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header value, if any."""
    if not header:
        return None
    scheme, _, token = header.decode("latin-1").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > 256:
        return None
    return token


class ApiKeyAuth:
    """Requires a valid API key on every path under /api/ (and on /metrics unless public); run
    per request by service.http.middleware.pipeline.

    Not Litestar's AbstractAuthenticationMiddleware: it builds a connection and a parsed header
    map per request, several times the cost of a cached key check.
    """

    def __init__(self, verifier: KeyVerifier, exclude: str | list[str] | None = None) -> None:
        """Authenticate with `verifier`; paths matching `exclude` (and OPTIONS) stay public."""
        self.verifier = verifier
        patterns = [exclude] if isinstance(exclude, str) else list(exclude or ())
        self.exclude = re.compile("|".join(patterns)) if patterns else None

    async def __call__(self, scope: ASGIScope) -> None:
        """Set `scope["user"]` to the Caller, or raise 401 (403 for a scope too small)."""
        method = scope["method"]  # type: ignore[typeddict-item]
        if (
            method != "OPTIONS"
            and not (self.exclude is not None and self.exclude.search(scope["path"]))
            and not scope["route_handler"].opt.get("exclude_from_auth")
        ):
            scope["user"] = await self.authenticate(scope, method)
            scope["auth"] = None

    async def authenticate(self, scope: ASGIScope, method: str) -> Caller:
        """401 unless the request carries the token of an existing key."""
        header = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                header = value
                break
        token = bearer_token(header)
        if token is None:
            raise NotAuthorizedException(
                "missing or malformed Authorization: Bearer <token> header", headers=CHALLENGE
            )
        client = scope.get("client")
        caller = await self.verifier.verify(token, client[0] if client else "")
        if caller is None:
            raise NotAuthorizedException(
                "the API key is invalid or was revoked",
                headers={**CHALLENGE, "WWW-Authenticate": CHALLENGE["WWW-Authenticate"]
                         + ', error="invalid_token"'},
            )  # fmt: skip
        # The scope check lives here rather than in a guard: Litestar copies the route handler
        # for every guard call, a cost paid on every request.
        check_scope(caller, method, scope["route_handler"])
        return caller


def required_scope(method: str, handler: BaseRouteHandler) -> Scope:
    """`opt["scope"]` of the handler, else read for safe methods and write for the others."""
    declared = handler.opt.get("scope")
    if declared is not None:
        return Scope(declared)
    return Scope.READ if method in READ_METHODS else Scope.WRITE


def check_scope(caller: Caller, method: str, handler: BaseRouteHandler) -> None:
    """403 unless the caller's scope covers what the route needs."""
    require(caller, required_scope(method, handler))


def require(caller: Caller, needed: Scope, why: str = "this request") -> None:
    """403 unless the caller's scope covers `needed`: the route's (check_scope), or more for a
    request whose parameters ask for more (DeleteVM's purge=true: admin), checked by its handler
    before anything is looked up."""
    if SCOPE_RANK[caller.scope] < SCOPE_RANK[needed]:
        raise PermissionDeniedException(
            f"the API key {caller.name!r} has scope {caller.scope.value!r}; "
            f"{why} needs {needed.value!r}"
        )
