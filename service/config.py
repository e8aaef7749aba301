"""Settings from the environment and `.env`."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


class Settings(BaseSettings):
    """Every setting of the service; each one is an environment variable of the same name."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", allow_inf_nan=False
    )

    mongodb_url: str | None = Field(
        default=None, description="MongoDB URL; unset starts the bundled local mongod"
    )
    mongodb_db: str = Field(default="vm_inventory", description="database name")
    mongodb_timeout_ms: int = Field(
        default=2000, ge=100, description="bound on server selection and each MongoDB call"
    )
    host: str = Field(default="127.0.0.1", description="address the HTTP server binds")
    port: int = Field(default=8000, ge=0, le=65535, description="port the HTTP server binds")
    data_dir: Path = Field(default=Path(".data"), description="where the local mongod keeps data")
    local_mongod_port: int = Field(
        default=27018, ge=1, le=65535, description="port of the local mongod"
    )
    migrate_on_start: bool = Field(default=False, description="apply pending migrations on serve")
    schema_check_seconds: float = Field(
        default=1.0,
        gt=0,
        le=60,
        description="how often a server checks the schema version it needs and heartbeats; "
        "it stops answering VM requests (503) within about this time of a `migrate down`",
    )
    require_if_match: bool = Field(
        default=False, description="answer 428 to a PUT, PATCH or DELETE without If-Match"
    )
    log_level: LogLevel = Field(default="INFO", description="log level (any case)")
    api_key_cache_seconds: float = Field(
        default=10.0,
        ge=0,
        description="how long a verified key is trusted without asking MongoDB "
        "(a revoked key stops working within this time)",
    )
    rate_limit_per_minute: int = Field(
        default=6000, ge=1, description="requests per key (or client address) per minute on /api"
    )
    metrics_public: bool = Field(default=True, description="serve /metrics without an API key")
    # OpenTelemetry tracing, under the standard variable names (README "Operating it").
    otel_exporter_otlp_endpoint: str | None = Field(
        default=None,
        description="OTLP/HTTP collector URL (spans go to <url>/v1/traces); unset: tracing off",
    )
    otel_service_name: str = Field(default="vm-inventory", description="service.name of spans")
    otel_traces_sampler: Literal[
        "always_on",
        "always_off",
        "traceidratio",
        "parentbased_always_on",
        "parentbased_always_off",
        "parentbased_traceidratio",
    ] = Field(default="parentbased_always_on", description="which requests are traced")
    otel_traces_sampler_arg: float = Field(
        default=1.0, ge=0, le=1, description="the *traceidratio samplers' fraction of requests"
    )
    max_query_bytes: int = Field(default=4096, ge=256, description="longest query string (414)")
    max_header_bytes: int = Field(default=16384, ge=1024, description="largest header block (431)")
    header_timeout_seconds: float = Field(
        default=10.0, gt=0, description="a request's head must arrive within this time (408)"
    )
    body_timeout_seconds: float = Field(
        default=30.0, gt=0, description="a request's body must arrive within this time of its head"
    )
    keep_alive_timeout_seconds: float = Field(
        default=5.0, gt=0, description="an idle kept-alive connection is closed after this time"
    )
    max_connections: int = Field(
        default=1000, ge=1, description="open connections per process; past it, 503 and close"
    )
    workers: int = Field(default=1, ge=1, description="server processes sharing the port")
    dev_api_key_file: Path | None = Field(
        default=None, description="serve keeps an admin key here, created on first run (dev only)"
    )
    page_token_secret: SecretStr | None = Field(
        default=None,
        description=(
            "key signing ListVMs page tokens; unset means a random key per process, so every "
            "deployment running more than one process (or restarting mid-walk) must set it"
        ),
    )

    deleted_retention_days: float = Field(
        default=30.0,
        gt=0,
        description="a deleted VM can be restored this long (days; fractions allowed), then "
        "MongoDB purges it",
    )

    watch_heartbeat_seconds: float = Field(
        default=15.0,
        gt=0,
        description="WatchVMs sends a heartbeat comment and a BOOKMARK this often when quiet",
    )
    watch_max_clients: int = Field(
        default=500,
        ge=1,
        description="watchers per process (well below MAX_CONNECTIONS); past it 429",
    )
    watch_max_clients_per_key: int = Field(
        default=100, ge=1, description="watchers per API key and process; past it 429"
    )
    watch_queue_events: int = Field(
        default=1000,
        ge=1,
        description="events queued per watcher; a client further behind is disconnected",
    )
    watch_send_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        description="a watcher whose client takes no data for this long is dropped",
    )
    watch_buffer_bytes: int = Field(
        default=64 * 1024,
        ge=16 * 1024,
        description="bytes written for a watcher that the kernel has not taken (its client is "
        "that far behind); one more chunk would pass it: dropped",
    )
    watch_resume_window_seconds: float = Field(
        default=300.0,
        gt=0,
        description="a watch resumes from at most this far back (older: 410, list again)",
    )
    watch_idle_close_seconds: float = Field(
        default=30.0,
        gt=0,
        description="a process nobody watches closes its change stream after this long (its "
        "next watcher opens it again): no write's change is read for nobody",
    )
    export_max_concurrent: int = Field(
        default=4, ge=1, description="ExportVMs running at once per process; past it 429"
    )
    export_max_concurrent_per_key: int = Field(
        default=2, ge=1, description="ExportVMs at once per API key and process; past it 429"
    )
    export_send_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        description="an export whose client takes no data for this long is cut off (its slot "
        "and snapshot freed)",
    )

    @field_validator("mongodb_url")
    @classmethod
    def _mongodb_scheme(cls, value: str | None) -> str | None:
        """A MongoDB connection string (the driver checks the rest when it connects)."""
        if value is not None and not re.match(r"mongodb(\+srv)?://[^/?]", value):
            raise ValueError("not a MongoDB URL (mongodb://host... or mongodb+srv://host...)")
        return value

    @field_validator("mongodb_db")
    @classmethod
    def _database_name(cls, value: str) -> str:
        """A name MongoDB accepts for a database."""
        if not value or len(value.encode()) > 63 or re.search(r'[/\\. "$\x00]', value):
            raise ValueError('not a MongoDB database name (1-63 bytes, none of / \\ . " $)')
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _any_case(cls, value: object) -> object:
        """`info` is `INFO` (anything else stays as given, for the error to quote)."""
        if isinstance(value, str) and value.upper() in get_args(LogLevel):
            return value.upper()
        return value

    @field_validator("otel_exporter_otlp_endpoint")
    @classmethod
    def _tracing_installed(cls, value: str | None) -> str | None:
        """Tracing needs the `otel` extra (opentelemetry's SDK and exporter)."""
        if not value:
            return None
        if not re.match(r"https?://[^/?]", value):
            raise ValueError("not an http:// or https:// URL")
        try:
            found = importlib.util.find_spec("opentelemetry.sdk") is not None
        except ModuleNotFoundError:  # no opentelemetry at all
            found = False
        if not found:
            raise ValueError("tracing needs the otel extra: uv sync --extra otel")
        return value

    @field_validator("mongodb_url", "dev_api_key_file", "page_token_secret", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        """An empty value (as in .env.example) means unset."""
        return None if value == "" else value


def redacted(text: str) -> str:
    """`text` with the user and password of every URL in it replaced by `***`."""
    return re.sub(r"//[^/@\s]*@", "//***@", text)


class SettingsError(Exception):
    """Settings that do not validate: one line per bad setting, every one of them."""

    def __init__(self, lines: list[str]) -> None:
        """Keep the lines (`NAME: what is wrong: 'value'`)."""
        super().__init__("\n".join(lines))
        self.lines = lines


def load_settings() -> Settings:
    """The settings from the environment and `.env`; SettingsError names every bad one."""
    try:
        return Settings()
    except ValidationError as exc:
        raise SettingsError(describe_errors(exc)) from None


# pydantic's error types, as a line of `error: NAME: <this>: 'value'` says them.
_MESSAGES = {
    "int_parsing": "not an integer",
    "int_from_float": "not an integer",
    "float_parsing": "not a number",
    "finite_number": "not a finite number",
    "bool_parsing": "not a boolean (true or false)",
    "greater_than_equal": "must be at least {ge}",
    "greater_than": "must be more than {gt}",
    "less_than_equal": "must be at most {le}",
    "less_than": "must be less than {lt}",
    "literal_error": "must be one of {expected}",
}


def describe_errors(exc: ValidationError) -> list[str]:
    """One line per setting at fault, named as its environment variable, in field order."""
    by_field: dict[str, str] = {}
    for error in exc.errors():
        name = str(error["loc"][0]) if error["loc"] else ""
        if name in by_field:
            continue  # the first error of a setting says enough
        ctx: dict[str, Any] = error.get("ctx") or {}
        if error["type"] == "value_error" and "error" in ctx:
            message = str(ctx["error"])
        elif error["type"] in _MESSAGES:
            message = _MESSAGES[error["type"]].format(**ctx)
        else:
            message = error["msg"][:1].lower() + error["msg"][1:]
        field = Settings.model_fields.get(name)
        shown = "" if field is None or _is_secret(field.annotation) else f": {error['input']!r}"
        # A URL's user and password stay off the terminal.
        by_field[name] = redacted(f"{name.upper()}: {message}{shown}")
    order = list(Settings.model_fields)
    return [
        by_field[n] for n in sorted(by_field, key=lambda n: order.index(n) if n in order else 0)
    ]


def _is_secret(annotation: object) -> bool:
    return annotation is SecretStr or SecretStr in getattr(annotation, "__args__", ())
