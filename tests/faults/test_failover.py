"""A three-member replica set loses its primary during a stream of majority writes."""

from __future__ import annotations

import time
from pathlib import Path

from pymongo import MongoClient

from bench.server_process import ServerProcess
from tests.faults.cluster import ReplicaSet
from tests.faults.load import CreateStream


def test_primary_killed_during_writes_loses_no_acknowledged_write(tmp_path: Path) -> None:
    replica_set = ReplicaSet(tmp_path)
    # A time bound longer than an election, so writes in flight ride through it by retrying.
    server = ServerProcess(replica_set.url, "faults_failover", MONGODB_TIMEOUT_MS="10000")
    stream = CreateStream("", {})
    try:
        replica_set.start()
        server.start()
        stream = CreateStream(server.base_url, server.headers, workers=4, timeout=30).start()
        stream.wait_until(lambda: stream.count(201) >= 30, 30, "writes before the failover")

        old = replica_set.primary()
        # The moment of the SIGKILL, not of kill()'s return: reaping the process can take seconds
        # on a loaded machine, past the election itself.
        killed = time.time()
        old.kill()
        deadline = killed + 30
        while (new := replica_set.primary()) is old:
            assert time.time() < deadline, "no new primary elected"
            time.sleep(0.1)
        elected = replica_set.elected_at()
        stream.wait_until(
            lambda: stream.count(201, since=elected) >= 20, 60, "writes after the election"
        )
        outcomes = stream.stop()

        assert {o.status for o in outcomes} <= {201, 503}, stream.summary()
        # Writes pending while there was no primary (sent to the dying one, or issued before the
        # election) waited for the new primary and succeeded there instead of failing. Whether one
        # was on the wire at the very moment of the SIGKILL is luck: four writes acknowledged a
        # millisecond before it leave none in flight, and that is not a failure.
        rode_through = [o for o in outcomes if o.status == 201 and o.started < elected < o.ended]
        pending = [(o.status, round(o.started - killed, 2), round(o.ended - killed, 2))
                   for o in outcomes if o.started < elected and o.ended > killed]  # fmt: skip
        assert rode_through, (stream.summary(), round(elected - killed, 2), pending)
        acknowledged = stream.created_names()
        with MongoClient(replica_set.url, serverSelectionTimeoutMS=10000) as check:
            vms = check["faults_failover"]["vms"]
            stored = {d["name"] for d in vms.find({}, {"name": 1})}
        assert new.port != old.port
        assert acknowledged <= stored, f"lost: {sorted(acknowledged - stored)[:10]}"
    finally:
        stream.stop()
        assert server.stop() == 0, server.output()
        replica_set.kill()
