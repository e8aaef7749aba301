"""The `apikey` commands and the development key of the run command, against the real server."""

import os
import subprocess
import sys
import uuid
from pathlib import Path

import httpx

from tests.support import ROOT, ServerProcess


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "service", "apikey", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_apikey_commands_and_a_served_request(mongo_url: str) -> None:
    server = ServerProcess(mongo_url, f"e2e_{uuid.uuid4().hex[:8]}").start()
    try:
        url = server.base_url + "/api/v1/vms"
        assert httpx.get(url).status_code == 401
        assert httpx.get(url, headers=server.headers).status_code == 200

        created = cli(server.env, "create", "--name", "ci-reader", "--scope", "read")
        assert created.returncode == 0, created.stderr
        token = created.stdout.strip().splitlines()[-1]
        assert token.startswith("vmi_") and len(token) >= 43
        auth = {"Authorization": f"Bearer {token}"}
        assert httpx.get(url, headers=auth).status_code == 200
        body = {"name": "x", "os": "y", "cpu_cores": 1, "memory_mib": 512, "storage_gib": 1}
        assert httpx.post(url, json=body, headers=auth).status_code == 403

        again = cli(server.env, "create", "--name", "ci-reader", "--scope", "admin")
        assert again.returncode != 0 and "already exists" in again.stderr

        listed = cli(server.env, "list")
        assert listed.returncode == 0
        assert "ci-reader\tread" in listed.stdout
        assert token not in listed.stdout and server.token not in listed.stdout

        assert cli(server.env, "revoke", "ci-reader").returncode == 0
        assert "ci-reader" not in cli(server.env, "list").stdout
        assert cli(server.env, "revoke", "ci-reader").returncode != 0
    finally:
        assert server.stop() == 0


def test_run_command_prints_the_same_dev_key_every_time(mongo_url: str, tmp_path: Path) -> None:
    db = f"e2e_{uuid.uuid4().hex[:8]}"
    key_file = tmp_path / "dev-api-key"
    tokens = []
    for _ in range(2):
        server = ServerProcess(mongo_url, db, DEV_API_KEY_FILE=str(key_file))
        server.start(api_key=False)
        assert server.stop() == 0
        out = server.output()
        token = key_file.read_text().strip()
        assert f"Bearer {token}" in out
        tokens.append(token)
    assert tokens[0] == tokens[1]
    assert oct(os.stat(key_file).st_mode & 0o777) == "0o600"
