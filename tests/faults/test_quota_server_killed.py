"""The server SIGKILLed while many creates, resizes, deletes and restores into a project with a
quota are in flight, twice over: after each restart usage still equals a recount."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
from pymongo import MongoClient

from bench.server_process import ServerProcess
from service.storage.mongod import LocalMongod, free_port
from tests.faults.quota_load import QuotaStream, counted, make_project, recount

PROJECT = "team-k"
QUOTA = {"vms": 40, "cpu_cores": 100, "memory_mib": None, "storage_gib": None}
KILLS = 2


def test_usage_equals_recount_after_server_sigkilled_mid_writes(tmp_path: Path) -> None:
    mongod = LocalMongod(tmp_path / "db", free_port())
    server = ServerProcess(mongod.url, "faults_quota_killed")
    stream: QuotaStream | None = None
    try:
        mongod.start()
        server.start()
        make_project(server.base_url, server.headers, PROJECT, QUOTA)
        stream = QuotaStream(server, mongod.url, PROJECT, QUOTA, workers=12).start()
        stream.wait_for_successes(80, 0, 60, "writes before the first kill")
        for kill in range(KILLS):
            assert server.process is not None
            server.process.kill()  # SIGKILL: no shutdown, transactions cut wherever they are
            server.process.wait(30)
            server.start(timeout=60)  # same port, same key
            restarted = time.time()
            stream.wait_for_successes(60, restarted, 120, f"writes after restart {kill + 1}")
        stream.stop()

        assert not stream.violations, stream.violations[:10]
        assert stream.snapshots > 0
        # Some writers had their request cut by a kill (no answer), the rest answered.
        assert sum(n for (_, status), n in stream.answers.items() if isinstance(status, str)) > 0
        assert not [a for a in stream.answers if a[1] == 500], dict(stream.answers)

        with MongoClient(mongod.url, serverSelectionTimeoutMS=10000) as check:
            live = counted(check[server.env["MONGODB_DB"]], PROJECT)
        got = httpx.get(f"{server.base_url}/api/v1/projects/{PROJECT}", headers=server.headers)
        assert got.status_code == 200, got.text
        assert got.json()["usage"] == live
        done = recount(server)
        assert done.returncode == 0, done.stdout + done.stderr
        assert f"{PROJECT}\tok" in done.stdout, done.stdout
    finally:
        if stream is not None:
            stream.stop()
        server.stop()
        mongod.kill()
