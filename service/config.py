"""Settings from the environment and `.env`."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every setting of the service; each one is an environment variable of the same name."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

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
    local_mongod_port: int = Field(default=27018, description="port of the local mongod")
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
    log_level: str = Field(default="INFO", description="log level")
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
    export_max_concurrent: int = Field(
        default=4, ge=1, description="ExportVMs running at once per process; past it 429"
    )
    export_max_concurrent_per_key: int = Field(
        default=2, ge=1, description="ExportVMs at once per API key and process; past it 429"
    )

    @field_validator("dev_api_key_file", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        """`DEV_API_KEY_FILE=` (as in .env.example) means no development key."""
        return None if value == "" else value
