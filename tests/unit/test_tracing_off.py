"""Tracing off (no OTEL_EXPORTER_OTLP_ENDPOINT) costs no request anything: no plugin, middleware
or listener is installed, and neither opentelemetry's API, its SDK nor our tracing modules are
imported (Litestar tries its own OpenTelemetry plugin, which imports semantic-convention names).
A bad tracing setting is refused at start."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from service.config import Settings

ROOT = Path(__file__).resolve().parents[2]

PROGRAM = """
import sys
from service.config import Settings
from service.http.app import create_app
app = create_app(Settings(_env_file=None, mongodb_url="mongodb://127.0.0.1:1"))
ours = (
    "opentelemetry.trace", "opentelemetry.context", "opentelemetry.sdk",
    "service.http.tracing.instrument", "service.storage.tracing",
)
loaded = sorted(m for m in sys.modules if m.startswith(ours))
print(loaded, [p.__class__.__name__ for p in app.plugins])
"""


def test_an_app_without_an_endpoint_imports_no_opentelemetry() -> None:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=120, check=True,
    )  # fmt: skip
    loaded, plugins = done.stdout.strip().split("] ", 1)
    assert loaded == "["
    assert "OpenTelemetryPlugin" not in plugins


@pytest.mark.parametrize(
    ("name", "value"),
    [("otel_traces_sampler", "sometimes"), ("otel_traces_sampler_arg", "1.5")],
)
def test_a_bad_tracing_setting_is_refused(name: str, value: str) -> None:
    with pytest.raises(ValidationError, match=name):
        Settings(_env_file=None, **{name: value})  # type: ignore[arg-type]


def test_an_empty_endpoint_is_tracing_off() -> None:
    settings = Settings(_env_file=None, otel_exporter_otlp_endpoint="")
    assert settings.otel_exporter_otlp_endpoint is None
