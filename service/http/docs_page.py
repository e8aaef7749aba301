"""The API docs page at /schema: Swagger UI, its files served by the service itself (no CDN)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.router import Router
from litestar.static_files import create_static_files_router

ASSETS_PATH = "/schema/assets"


def assets_directory() -> Path:
    """Swagger UI's built files, as the swagger-ui-py package (pinned in pyproject.toml) ships
    them; found without importing the package, which is never used but for these files."""
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the swagger-ui-py package is missing: uv sync")
    return Path(spec.submodule_search_locations[0]) / "static"


def render_plugin() -> SwaggerRenderPlugin:
    """Swagger UI at /schema (and /schema/swagger) loading its scripts, styles and icon from
    ASSETS_PATH."""
    return SwaggerRenderPlugin(
        js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
        css_url=f"{ASSETS_PATH}/swagger-ui.css",
        standalone_preset_js_url=f"{ASSETS_PATH}/swagger-ui-standalone-preset.js",
        favicon=f"<link rel='icon' type='image/png' href='{ASSETS_PATH}/favicon-32x32.png'>",
    )


def assets_router() -> Router:
    """GET ASSETS_PATH/<file>: the files the docs page loads (public, as /schema is)."""
    return create_static_files_router(
        path=ASSETS_PATH,
        directories=[assets_directory()],
        include_in_schema=False,
        name="docs-assets",
    )
