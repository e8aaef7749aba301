"""README's "The VM" walk-through runs as written against a real server."""

from __future__ import annotations

import json
import re
import subprocess
import uuid
from pathlib import Path

from bench.server_process import ServerProcess
from tests import ROOT


def walk_through() -> str:
    """The shell block of README's "The VM" section."""
    section = (ROOT / "README.md").read_text().split("\n## The VM\n", 1)[1].split("\n## ", 1)[0]
    match = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert match, "README's VM section has no shell walk-through"
    return match.group(1)


def test_the_vm_walk_through_runs_as_written(mongo_url: str, tmp_path: Path) -> None:
    """Run where scripts/run keeps the key (.data/dev-api-key), on the server's port: every
    curl succeeds (--fail-with-body), the VM is started and labelled, and its delete is 204."""
    server = ServerProcess(mongo_url, f"e2e_{uuid.uuid4().hex[:8]}")
    try:
        server.start()
        (tmp_path / ".data").mkdir()
        (tmp_path / ".data" / "dev-api-key").write_text(server.token + "\n")
        script = walk_through().replace("http://127.0.0.1:8000", server.base_url)
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
    finally:
        stopped = server.stop()  # also when it never became ready
    assert stopped == 0, server.output()
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout.splitlines()
    created = json.loads(out[0])
    assert (created["name"], created["status"], created["revision"]) == (
        "web-01",
        "provisioning",
        1,
    )
    assert 'etag: "1"' in done.stdout.lower()
    patched = json.loads(next(line for line in out if '"revision":2' in line))
    assert (patched["status"], patched["labels"]) == ("running", {"tier": "web"})
    history = json.loads(next(line for line in out if line.startswith('{"items"')))
    assert [e["action"] for e in history["items"]] == ["status_changed", "created"]
    assert out[-1] == "204"
