"""The access line written straight to configure_logging's handler (no LogRecord) is the line the
logging chain with JsonFormatter writes: same keys, same order, same values."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from service.http.logs import JsonFormatter, access_log, configure_logging
from tests.api.helpers import BASE

MISSING = f"{BASE}/0123456789abcdef01234567"


@pytest.fixture
def json_logging() -> Iterator[io.StringIO]:
    """configure_logging as `serve` does, its handler writing into a buffer; restored after."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    configure_logging("INFO")
    stream = io.StringIO()
    handler = root.handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)
    yield stream
    root.handlers[:], root.level = saved[0], saved[1]


async def test_the_direct_access_line_equals_the_formatted_one(
    client: AsyncTestClient[Any], json_logging: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = logging.getLogger()
    monkeypatch.setattr(
        root, "handlers", [h for h in root.handlers if isinstance(h.formatter, JsonFormatter)]
    )
    assert len(root.handlers) == 1  # only configure_logging's (pytest adds its own per test)

    def not_this_way(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the access line went through a LogRecord")

    monkeypatch.setattr(access_log, "info", not_this_way)
    await client.get(MISSING, headers={"X-Request-ID": "direct-1"})
    direct = [json.loads(line) for line in json_logging.getvalue().splitlines()]
    (line,) = [d for d in direct if d.get("logger") == "service.access"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", line["ts"])
    fields = {k: v for k, v in line.items() if k not in ("ts", "level", "logger", "message")}
    record = logging.LogRecord("service.access", logging.INFO, "", 0, "request", None, None)
    record.fields = fields
    formatted = json.loads(JsonFormatter().format(record))
    assert list(line) == list(formatted)
    assert {**line, "ts": None} == {**formatted, "ts": None}
    assert (line["status"], line["request_id"], line["key"]) == (404, "direct-1", "test-admin")
    assert list(fields) == ["method", "route", "status", "duration_ms", "request_id", "key"]
