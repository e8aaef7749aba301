"""Logging as `serve` sets it up: JSON lines on stderr, and the access line's fast path."""

from __future__ import annotations

import logging
import sys
import time
from datetime import UTC, datetime
from typing import Any

import msgspec

access_log = logging.getLogger("service.access")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and any `fields` passed as extra."""

    def format(self, record: logging.LogRecord) -> str:
        """Render `record` as a JSON line."""
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            out.update(fields)
        if record.exc_info:
            out["exc_info"] = self.formatException(record.exc_info)
        return msgspec.json.encode(out).decode()


def configure_logging(level: str) -> None:
    """Send every log record (ours, uvicorn's, litestar's) to stderr as JSON lines."""
    # The logging HOWTO's optimisations: no caller lookup (a stack walk per record), no thread,
    # process or task names; none of them is in our JSON lines.
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    global _json_handler
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    _json_handler = handler
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "litestar"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # Our access line is the only one: uvicorn's (which a `--workers` process would enable again,
    # its config being applied before the app is built) is dropped, and never formatted.
    logging.getLogger("uvicorn.access").handlers[:] = []
    logging.getLogger("uvicorn.access").propagate = False


_json_handler: logging.StreamHandler[Any] | None = None  # configure_logging's, once it ran
_second: tuple[int, str] = (-1, "")  # the last whole second and its ISO 8601 text


def write_access_line(fields: dict[str, Any]) -> bool:
    """Write the access line JsonFormatter would, encoded once and without a LogRecord, when
    configure_logging's handler is still the only one (else False: log it the usual way)."""
    global _second
    handler = _json_handler
    if handler is None or logging.root.handlers != [handler] or access_log.handlers:
        return False
    now = time.time()
    whole = int(now)
    if whole != _second[0]:
        _second = (whole, datetime.fromtimestamp(whole, UTC).strftime("%Y-%m-%dT%H:%M:%S"))
    line = {
        "ts": f"{_second[1]}.{int((now - whole) * 1000):03d}+00:00",
        "level": "INFO",
        "logger": "service.access",
        "message": "request",
        **fields,
    }
    text = msgspec.json.encode(line).decode() + "\n"
    try:
        with handler.lock:  # type: ignore[union-attr]
            handler.stream.write(text)
            handler.stream.flush()
    except Exception:
        return False  # logging's path reports it (Handler.handleError), never the request
    return True
