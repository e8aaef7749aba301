"""The `apikey` commands and the development key of the run command, against the real server."""

import os
import subprocess
import sys
import uuid
from pathlib import Path

import httpx

from bench.server_process import ServerProcess
from tests import ROOT

VM = {"name": "x", "os": "y", "cpu_cores": 1, "memory_mib": 512, "storage_gib": 1}


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "service", "apikey", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_dev_key_and_apikey_commands(mongo_url: str, tmp_path: Path) -> None:
    db = f"e2e_{uuid.uuid4().hex[:8]}"
    key_file = tmp_path / "dev-api-key"
    env = {"DEV_API_KEY_FILE": str(key_file), "API_KEY_CACHE_SECONDS": "0"}
    server = ServerProcess(mongo_url, db, **env).start()
    try:
        url = server.base_url + "/api/v1/vms"
        assert httpx.get(url).status_code == 401
        assert httpx.get(url, headers=server.headers).status_code == 200
        assert oct(os.stat(key_file).st_mode & 0o777) == "0o600"

        created = cli(server.env, "create", "--name", "ci-reader", "--scope", "read")
        assert created.returncode == 0, created.stderr
        token = created.stdout.strip().splitlines()[-1]
        assert token.startswith("vmi_") and len(token) >= 43
        auth = {"Authorization": f"Bearer {token}"}
        assert httpx.get(url, headers=auth).status_code == 200
        assert httpx.post(url, json=VM, headers=auth).status_code == 403

        listed = cli(server.env, "list")
        assert listed.returncode == 0
        assert "ci-reader\tread" in listed.stdout and "dev\tadmin" in listed.stdout
        assert token not in listed.stdout and server.token not in listed.stdout

        assert cli(server.env, "revoke", "ci-reader").returncode == 0
        # Keys are cached for API_KEY_CACHE_SECONDS (10 s by default); this server caches 0 s.
        assert httpx.get(url, headers=auth).status_code == 401
    finally:
        assert server.stop() == 0
    assert f"Bearer {server.token}" in server.output()

    again = ServerProcess(mongo_url, db, **env).start()
    try:
        assert again.token == server.token  # the second run prints the same key
        r = httpx.get(again.base_url + "/api/v1/vms", headers=again.headers)
        assert r.status_code == 200
    finally:
        assert again.stop() == 0
    assert f"Bearer {server.token}" in again.output()
