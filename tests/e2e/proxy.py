"""A tiny HTTP/1.1 proxy in front of the real server that injects faults on chosen requests."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field

import httpx

from service.storage.mongod import free_port

# What the proxy does with one request:
#   "503"     answer 503 + Retry-After itself, without forwarding ("429" and "inflight", the
#             409 of an Idempotency-Key still being processed, likewise);
#   "reset"   close the connection without forwarding (the request never reaches the server);
#   "lose"    forward to the server, then close the connection (the answer is lost).
CANNED = {
    "503": (503, "Service unavailable", "unavailable"),
    "429": (429, "Too many requests", "too-many-requests"),
    "inflight": (409, "Request in progress", "idempotency-key-in-flight"),
}
FAULTS = (*CANNED, "reset", "lose")


@dataclass
class Seen:
    """One request that reached the proxy, and the fault it got (None: forwarded)."""

    method: str
    path: str
    headers: dict[str, str]
    fault: str | None


@dataclass
class FaultyProxy:
    """Forward to `upstream`; the next requests whose method is in `faults` get those faults."""

    upstream: str
    retry_after: str = "1"
    faults: dict[str, list[str]] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)

    async def __aenter__(self) -> FaultyProxy:
        """Listen on a free port."""
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._client = httpx.AsyncClient(base_url=self.upstream, timeout=30)
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        return self

    async def __aexit__(self, *exc: object) -> None:
        """Stop listening and close the upstream client."""
        self._server.close()
        await self._client.aclose()

    def fail_next(self, method: str, *faults: str) -> None:
        """Give the next requests with `method` these faults, in order."""
        assert set(faults) <= set(FAULTS)
        self.faults.setdefault(method, []).extend(faults)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while await self._one(reader, writer):
                pass
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def _one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        request_line, *lines = head.split("\r\n")
        method, path, _ = request_line.split(" ", 2)
        headers = dict(line.split(": ", 1) for line in lines if line)
        lowered = {k.lower(): v for k, v in headers.items()}
        body = await reader.readexactly(int(lowered.get("content-length", "0")))
        queue = self.faults.get(method, [])
        fault = queue.pop(0) if queue else None
        self.seen.append(Seen(method, path, lowered, fault))
        if fault == "reset":
            return False
        if fault in CANNED:
            status, title, slug = CANNED[fault]
            problem = json.dumps({
                "type": "https://vm-inventory.dev/problems/" + slug,
                "title": title, "status": status, "detail": "injected by the proxy",
            }).encode()  # fmt: skip
            answer = [
                f"HTTP/1.1 {status} {title}".encode(),
                f"Retry-After: {self.retry_after}".encode(),
                b"Content-Type: application/problem+json",
                f"Content-Length: {len(problem)}".encode(),
            ]
            writer.write(b"\r\n".join(answer) + b"\r\n\r\n" + problem)
            await writer.drain()
            return True
        skip = {"host", "content-length", "connection", "accept-encoding", "transfer-encoding"}
        forward = {k: v for k, v in headers.items() if k.lower() not in skip}
        response = await self._client.request(method, path, headers=forward, content=body)
        if fault == "lose":
            return False
        status = f"HTTP/1.1 {response.status_code} {response.reason_phrase}".encode()
        out = [status] + [
            f"{k}: {v}".encode("latin-1")
            for k, v in response.headers.items()
            if k.lower() not in {"content-length", "transfer-encoding", "connection"}
        ]
        out.append(f"Content-Length: {len(response.content)}".encode())
        writer.write(b"\r\n".join(out) + b"\r\n\r\n" + response.content)
        await writer.drain()
        return True
