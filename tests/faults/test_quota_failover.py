"""Racing writers into a project with a quota while the replica set changes primary twice (a
step-down, then a SIGKILL): the quota is never passed and usage stays equal to a recount."""

from __future__ import annotations

import time
from contextlib import suppress
from pathlib import Path

import httpx
from pymongo import MongoClient
from pymongo.errors import ConnectionFailure

from bench.server_process import ServerProcess
from tests.faults.cluster import ReplicaSet
from tests.faults.quota_load import QuotaStream, counted, make_project, recount

PROJECT = "team-q"
# Tight enough that writers hit it all the time (every shard runs out and re-spreads).
QUOTA = {"vms": 12, "cpu_cores": 30, "memory_mib": None, "storage_gib": None}


def _new_primary(replica_set: ReplicaSet, old_port: int) -> float:
    """Wait for a primary other than `old_port`; return when it was elected."""
    deadline = time.time() + 60
    while replica_set.primary().port == old_port:
        assert time.time() < deadline, "no new primary elected"
        time.sleep(0.1)
    return replica_set.elected_at()


def test_quota_holds_and_usage_equals_recount_across_failovers(tmp_path: Path) -> None:
    replica_set = ReplicaSet(tmp_path)
    server = ServerProcess(replica_set.url, "faults_quota_failover", MONGODB_TIMEOUT_MS="10000")
    stream: QuotaStream | None = None
    try:
        replica_set.start()
        server.start()
        make_project(server.base_url, server.headers, PROJECT, QUOTA)
        stream = QuotaStream(server, replica_set.url, PROJECT, QUOTA).start()
        stream.wait_for_successes(60, 0, 60, "writes before the step-down")

        first = replica_set.primary()
        with MongoClient(first.direct_url) as direct, suppress(ConnectionFailure):
            direct.admin.command("replSetStepDown", 30, secondaryCatchUpPeriodSecs=10)
        elected = _new_primary(replica_set, first.port)
        stream.wait_for_successes(40, elected, 90, "writes after the step-down")

        second = replica_set.primary()
        second.kill()
        elected = _new_primary(replica_set, second.port)
        stream.wait_for_successes(40, elected, 90, "writes after the primary was killed")
        stream.stop()

        assert not stream.violations, stream.violations[:10]
        answers = stream.answers
        assert stream.snapshots > 0
        # Every kind of write got through, and the quota refused some of each raising kind.
        for op, status in (("create", 201), ("resize", 200), ("delete", 204), ("restore", 200)):
            assert answers[(op, status)] > 0, dict(answers)
        assert stream.refused["create"] > 0, (dict(answers), stream.refused)
        assert not [a for a in answers if a[1] == 500], dict(answers)

        with MongoClient(replica_set.url, serverSelectionTimeoutMS=20000) as check:
            live = counted(check[server.env["MONGODB_DB"]], PROJECT)
        got = httpx.get(f"{server.base_url}/api/v1/projects/{PROJECT}", headers=server.headers)
        assert got.status_code == 200, got.text
        assert got.json()["usage"] == live
        assert all(live[r] <= limit for r, limit in QUOTA.items() if limit is not None), live
        done = recount(server)
        assert done.returncode == 0, done.stdout + done.stderr
        assert f"{PROJECT}\tok" in done.stdout, done.stdout
    finally:
        if stream is not None:
            stream.stop()
        assert server.stop() == 0, server.output()
        replica_set.kill()
