"""A resume token older than MongoDB's change history is 410 Gone: the client lists again.

A mongod with a 1 MB oplog and a checkpoint every second forgets its history within seconds.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
import uuid
from pathlib import Path

import httpx
from bson import Timestamp
from pymongo import MongoClient
from pymongo.errors import OperationFailure

from bench.server_process import ServerProcess
from service.storage.mongod import LocalMongod, free_port, mongod_binary
from tests.api.listing_data import vm_doc

HISTORY_LOST = 286


class ForgetfulMongod(LocalMongod):
    """A single-member replica set whose oplog holds about 1 MB."""

    def spawn(self) -> None:
        """Start mongod with the smallest oplog and frequent checkpoints (so it truncates)."""
        self.dbpath.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                str(mongod_binary()), "--dbpath", str(self.dbpath), "--port", str(self.port),
                "--bind_ip", "127.0.0.1", "--replSet", self.replica_set,
                "--logpath", str(self.dbpath / "mongod.log"), "--oplogSize", "1",
                "--syncdelay", "1", "--wiredTigerCacheSizeGB", "0.25",
            ],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip


def _forget_until(url: str, moment: Timestamp) -> None:
    """Write filler until a change stream can no longer start at `moment`."""
    with MongoClient(url) as client:
        for _ in range(600):
            client.filler.junk.insert_many([{"p": "x" * 100_000} for _ in range(5)])
            try:
                client.filler.junk.watch(start_at_operation_time=moment).close()
            except OperationFailure as exc:
                if exc.code == HISTORY_LOST:
                    return
                raise
            time.sleep(0.1)
    raise AssertionError("the oplog never rolled over")


def test_tokens_older_than_the_history_are_410(tmp_path: Path) -> None:
    mongod = ForgetfulMongod(tmp_path / "db", free_port())
    server = ServerProcess(mongod.url, "faults_history")
    try:
        mongod.start()
        server.start()
        with httpx.Client(base_url=server.base_url, headers=server.headers, timeout=10) as http:
            name = f"old-{uuid.uuid4().hex[:6]}"
            body = {"name": name, "os": "x", "cpu_cores": 1, "memory_mib": 512, "storage_gib": 1}
            assert http.post("/api/v1/vms", json=body).status_code == 201
            listed = http.get("/api/v1/vms").json()
            watch_token = listed["watch_token"]
            with http.stream("GET", "/api/v1/vms/watch") as opened:
                line = next(line for line in opened.iter_lines() if line.startswith("id: "))
            event_id = line.removeprefix("id: ")
            seconds, _, increment = watch_token[1:].partition(".")
            _forget_until(mongod.url, Timestamp(int(seconds), int(increment)))

            for params, headers in [
                ({"resume_token": watch_token}, {}),
                ({}, {"Last-Event-ID": event_id}),
            ]:
                answer = http.get("/api/v1/vms/watch", params=params, headers=headers)
                assert answer.status_code == 410, answer.text
                assert answer.headers["content-type"] == "application/problem+json"
                assert "list again" in answer.json()["detail"]
            # A fresh list's token still works.
            fresh = http.get("/api/v1/vms").json()["watch_token"]
            params = {"resume_token": fresh, "name_prefix": name}
            with http.stream("GET", "/api/v1/vms/watch", params=params) as answer:
                assert answer.status_code == 200
    finally:
        server.stop()
        mongod.stop()


def test_open_watches_get_a_410_event_when_the_stream_cannot_resume(tmp_path: Path) -> None:
    mongod = ForgetfulMongod(tmp_path / "db", free_port())
    server = ServerProcess(mongod.url, "faults_history_open")
    try:
        mongod.start()
        server.start()
        with httpx.Client(base_url=server.base_url, headers=server.headers, timeout=60) as http:
            with http.stream("GET", "/api/v1/vms/watch") as stream:
                lines = stream.iter_lines()
                first = next(line for line in lines if line.startswith("id: "))
                # The server stops reading its change stream while MongoDB forgets its history.
                server.process.send_signal(signal.SIGSTOP)  # type: ignore[union-attr]
                try:
                    with MongoClient(mongod.url) as client:
                        moment = client.admin.command("ping")["operationTime"]
                        # A change the hub has not read yet, about to fall off the oplog.
                        client["faults_history_open"].vms.insert_one(vm_doc(1))
                    _forget_until(mongod.url, moment)
                finally:
                    server.process.send_signal(signal.SIGCONT)  # type: ignore[union-attr]
                last_id, data = first.removeprefix("id: "), ""
                while '"type":"ERROR"' not in data:
                    line = next(lines)
                    if line.startswith("id: "):
                        last_id = line.removeprefix("id: ")
                    data = line if line.startswith("data: ") else data
                error = json.loads(data.removeprefix("data: "))
                assert (error["status"], error["reason"]) == (410, "expired")
                assert error["resume_token"] == last_id  # the last event the client got
            # New watches work again, from the present.
            with http.stream("GET", "/api/v1/vms/watch") as again:
                assert again.status_code == 200
    finally:
        server.stop()
        mongod.stop()
