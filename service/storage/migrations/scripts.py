"""The migration scripts on disk: their names, versions and checksums."""

from __future__ import annotations

import hashlib
import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

SCRIPTS_DIR = Path(__file__).parent
SCRIPT_RE = re.compile(r"^(\d{4})_[a-z0-9]+(_[a-z0-9]+)*\.py$")


@dataclass(frozen=True)
class Script:
    """One migration script file."""

    version: int
    name: str
    path: Path
    checksum: str

    def load(self) -> ModuleType:
        """Import the script (under a private module name) and return it."""
        spec = importlib.util.spec_from_file_location(f"_migration_{self.name}", self.path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module


def checksum(path: Path) -> str:
    """SHA-256 of the script's text (line endings normalised, so a CRLF checkout still matches)."""
    return hashlib.sha256(path.read_bytes().replace(b"\r\n", b"\n")).hexdigest()


def discover(scripts_dir: Path = SCRIPTS_DIR) -> tuple[list[Script], list[str]]:
    """The scripts in `scripts_dir` in version order, and any problem with names or numbers."""
    scripts: list[Script] = []
    problems: list[str] = []
    for path in sorted(scripts_dir.glob("[0-9]*.py")):
        if match := SCRIPT_RE.match(path.name):
            scripts.append(Script(int(match.group(1)), path.stem, path, checksum(path)))
        else:
            problems.append(f"{path.name}: a script must be named NNNN_verb_noun.py")
    for expected, script in enumerate(scripts, start=1):
        if script.version != expected:
            problems.append(
                f"{script.path.name}: expected version {expected:04d} here; numbers must be "
                "unique and increase by one"
            )
            break
    return scripts, problems
