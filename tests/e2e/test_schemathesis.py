"""schemathesis (every check, every phase including stateful) against the real server."""

import subprocess
import sys
import uuid
from pathlib import Path

from bench.server_process import ServerProcess
from tests import ROOT

# Bounded so the run adds well under a minute; the seed makes a failure reproducible.
MAX_EXAMPLES = 30
SEED = 20261127


def test_schemathesis_finds_no_failure(mongo_url: str, tmp_path: Path) -> None:
    server = ServerProcess(
        mongo_url, f"st_{uuid.uuid4().hex[:8]}", RATE_LIMIT_PER_MINUTE="1000000"
    ).start()
    try:
        done = subprocess.run(
            [
                str(Path(sys.executable).parent / "st"),
                "--config-file", str(ROOT / "tests" / "schemathesis.toml"),
                "run", f"{server.base_url}/schema/openapi.json",
                "--header", f"Authorization: Bearer {server.token}",
                "--checks", "all",
                "--phases", "examples,coverage,fuzzing,stateful",
                "--max-examples", str(MAX_EXAMPLES),
                "--seed", str(SEED),
                "--generation-database", "none",
                "--report", "junit",
                "--report-dir", str(tmp_path),
                "--no-color",
            ],
            cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
    finally:
        assert server.stop() == 0
    report = done.stdout + done.stderr
    assert done.returncode == 0, report[-8000:]
    assert "Stateful" in report and "API Links" in report
    assert "failure" not in report.splitlines()[-1]
