"""Settings from the environment and `.env`."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
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
    log_level: str = Field(default="INFO", description="log level")
