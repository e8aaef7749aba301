"""README's SDK example runs as written against the real server."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from bench.server_process import ServerProcess
from tests import ROOT


def readme_example() -> str:
    """The first Python block of README's "SDK" section."""
    section = (ROOT / "README.md").read_text().split("\n## SDK\n", 1)[1].split("\n## ", 1)[0]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match, "README's SDK section has no python example"
    return match.group(1)


def test_readme_sdk_example_runs(server: ServerProcess) -> None:
    env = {**os.environ, "VM_INVENTORY_URL": server.base_url, "VM_INVENTORY_TOKEN": server.token}
    result = subprocess.run(
        [sys.executable, "-c", readme_example()],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "web-01 running {'tier': 'web'}" in result.stdout
    assert "refused: running -> ['error', 'stopped', 'suspended']" in result.stdout
    assert "deleted:" in result.stdout
    assert "4 deleted dev\n" in result.stdout  # the history, newest first, by the key's name
    assert "1 created dev\n" in result.stdout
