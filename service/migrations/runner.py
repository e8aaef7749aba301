"""Apply migration scripts in order (placeholder: the full runner with lock and history follows)."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

SCRIPTS_DIR = Path(__file__).parent
SCRIPT_RE = re.compile(r"^(\d{4})_[a-z0-9_]+\.py$")


def load_scripts() -> list[tuple[int, ModuleType]]:
    """Every migration script, in version order."""
    found = []
    for path in sorted(SCRIPTS_DIR.iterdir()):
        if match := SCRIPT_RE.match(path.name):
            spec = importlib.util.spec_from_file_location(f"_migration_{path.stem}", path)
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            found.append((int(match.group(1)), module))
    return found


async def upgrade(db: AsyncDatabase[dict[str, Any]]) -> None:
    """Run every script's up()."""
    for _version, module in load_scripts():
        await module.up(db, None)
