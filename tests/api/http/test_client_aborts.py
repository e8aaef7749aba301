"""A client that goes away before any response is sent is counted as 499 (`client_closed` in the
access log), not as a 500 in the metrics and the log; a handler that really fails is still 500."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest
from litestar.types import Message, ReceiveMessage
from prometheus_client import REGISTRY

from service.domain.vms import VMService
from service.http.logs import JsonFormatter
from tests.api.helpers import BASE, Client

pytestmark = pytest.mark.usefixtures("clean")
VM_PATH = f"{BASE}/0123456789abcdef01234567"


def requests_total(method: str, path: str, status: int) -> float:
    labels = {"method": method, "path": path, "status_code": str(status)}
    labels["app_name"] = "vm-inventory"
    return REGISTRY.get_sample_value("vm_inventory_requests_total", labels) or 0.0


def access_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    formatter = JsonFormatter()
    return [json.loads(formatter.format(r)) for r in caplog.records if r.name == "service.access"]


async def call_and_vanish(
    client: Client, token: str, method: str, path: str, chunks: list[bytes]
) -> list[Message]:
    """Send the headers and `chunks` of a body announced as longer, then disconnect."""
    events: list[ReceiveMessage] = [
        {"type": "http.request", "body": chunk, "more_body": True} for chunk in chunks
    ]
    sent: list[Message] = []

    async def receive() -> ReceiveMessage:
        return events.pop(0) if events else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1",
        "method": method, "scheme": "http", "path": path, "raw_path": path.encode(),
        "root_path": "", "query_string": b"", "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80), "state": {}, "extensions": {},
        "headers": [
            (b"host", b"testserver"), (b"authorization", f"Bearer {token}".encode()),
            (b"content-type", b"application/json"), (b"content-length", b"4096"),
        ],
    }  # fmt: skip
    # The app runs in the test client's event loop (the MongoDB client is bound to it).
    with client.portal() as portal:
        await asyncio.to_thread(portal.call, client.app, scope, receive, send)
    return sent


@pytest.mark.parametrize(
    ("method", "path", "template"),
    [("POST", BASE, BASE), ("PUT", VM_PATH, f"{BASE}/{{vm_id}}"),
     ("PATCH", VM_PATH, f"{BASE}/{{vm_id}}")],
)  # fmt: skip
@pytest.mark.parametrize("chunks", [[], [b'{"name": "half'], [b"{", b'"os": "x"']])
async def test_a_client_gone_mid_body_is_499_in_metrics_and_log_not_500(
    client: Client,
    admin_token: str,
    caplog: pytest.LogCaptureFixture,
    method: str,
    path: str,
    template: str,
    chunks: list[bytes],
) -> None:
    before = {s: requests_total(method, template, s) for s in (499, 500)}
    with caplog.at_level(logging.INFO, logger="service.access"):
        sent = await call_and_vanish(client, admin_token, method, path, chunks)
    assert sent == []  # nothing to send to
    assert requests_total(method, template, 499) == before[499] + 1
    assert requests_total(method, template, 500) == before[500]
    (line,) = access_lines(caplog)
    assert (line["status"], line["client_closed"], line["route"]) == (499, True, template)


async def test_a_handler_that_really_fails_still_counts_500(
    client: Client, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(self: VMService, vm_id: str) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(VMService, "get_vm", broken)
    template = f"{BASE}/{{vm_id}}"
    before = requests_total("GET", template, 500)
    with caplog.at_level(logging.INFO, logger="service.access"):
        response = await client.get(VM_PATH)
    assert response.status_code == 500
    assert requests_total("GET", template, 500) == before + 1
    (line,) = access_lines(caplog)
    assert line["status"] == 500
    assert "client_closed" not in line
