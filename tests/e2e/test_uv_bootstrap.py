"""scripts/_uv.sh where no `uv` is on PATH: it installs one that works, on a stock Debian or
Ubuntu python3 too (which refuses `pip install` outside a venv, and may lack venv itself).

Each test downloads uv from PyPI into a directory of its own (UV_BOOTSTRAP_DIR).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests import ROOT

# The system's python3 (a stock Debian one here), else the one this venv was made from.
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys._base_executable
# A python3 as Debian's and Ubuntu's without the python3-venv package: `-m venv` fails.
WITHOUT_VENV = f"""#!/bin/sh
if [ "$1" = "-m" ] && [ "$2" = "venv" ]; then
  echo "ensurepip is not available" >&2
  exit 1
fi
exec {PYTHON} "$@"
"""
PROJECT = """[project]
name = "t"
version = "0"
requires-python = ">=3.11"
dependencies = []

[tool.uv]
package = false
"""
LOCK = """version = 1
revision = 3
requires-python = ">=3.11"

[[package]]
name = "t"
version = "0"
source = { virtual = "." }
"""


def bootstrap(tmp_path: Path, python3: str | None) -> subprocess.CompletedProcess[str]:
    """Source scripts/_uv.sh in a tiny project with a PATH of bash, dirname, rm and python3."""
    tools = tmp_path / "bin"
    tools.mkdir()
    for name in ("bash", "dirname", "rm"):
        found = shutil.which(name)
        assert found is not None
        (tools / name).symlink_to(found)
    if python3 is None:
        (tools / "python3").write_text(WITHOUT_VENV)
        (tools / "python3").chmod(0o755)
    else:
        (tools / "python3").symlink_to(python3)
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text(PROJECT)
    (project / "uv.lock").write_text(LOCK)
    env = {
        "PATH": str(tools),
        "HOME": str(tmp_path / "home"),
        "UV_BOOTSTRAP_DIR": str(tmp_path / "uv"),
        "UV_PYTHON_DOWNLOADS": "never",
    }
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "SSL_CERT_FILE", "PIP_INDEX_URL"):
        if name in os.environ:
            env[name] = os.environ[name]
    script = f"source {ROOT / 'scripts' / '_uv.sh'} && uv --version"
    return subprocess.run(
        [str(tools / "bash"), "-c", script],
        cwd=project, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip


@pytest.mark.parametrize("python3", [PYTHON, None], ids=["python3", "python3-without-venv"])
def test_uv_is_installed_when_missing(tmp_path: Path, python3: str | None) -> None:
    done = bootstrap(tmp_path, python3)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("uv 0.13.9"), done.stdout
    assert f"installing uv 0.13.9 into {tmp_path / 'uv'}" in done.stderr
    assert os.access(tmp_path / "uv" / "bin" / "uv", os.X_OK)
    assert (tmp_path / "project" / ".venv").is_dir()  # then `uv sync` ran with it
