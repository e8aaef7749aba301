"""A replica set of several local mongod processes on loopback, for failover tests."""

from __future__ import annotations

import contextlib
import time
from datetime import UTC, datetime
from pathlib import Path

from pymongo import MongoClient
from pymongo.errors import OperationFailure, PyMongoError

from service.storage.mongod import LocalMongod, free_port


class ReplicaSet:
    """`members` LocalMongods (free ports, data under `root`) forming one replica set."""

    def __init__(self, root: Path, members: int = 3, name: str = "rsfault") -> None:
        """Describe the set; nothing runs until start()."""
        self.name = name
        self.members = [
            LocalMongod(root / f"member{i}", free_port(), replica_set=name) for i in range(members)
        ]

    @property
    def url(self) -> str:
        """A replica-set URL naming every member (the driver follows the primary)."""
        hosts = ",".join(f"127.0.0.1:{m.port}" for m in self.members)
        return f"mongodb://{hosts}/?replicaSet={self.name}"

    def start(self, timeout: float = 60.0) -> ReplicaSet:
        """Spawn every member, initiate the set (fast elections) and wait for a full set."""
        for member in self.members:
            member.spawn()
        config = {
            "_id": self.name,
            "members": [
                {"_id": i, "host": f"127.0.0.1:{m.port}"} for i, m in enumerate(self.members)
            ],
            "settings": {"electionTimeoutMillis": 2000, "heartbeatIntervalMillis": 500},
        }
        first: MongoClient[dict[str, object]] = MongoClient(
            self.members[0].direct_url, serverSelectionTimeoutMS=500
        )
        deadline = time.monotonic() + timeout
        try:
            while True:
                with contextlib.suppress(PyMongoError):
                    if "setName" not in first.admin.command("hello"):
                        with contextlib.suppress(OperationFailure):
                            first.admin.command("replSetInitiate", config)
                    states = [m["stateStr"] for m in self.status()["members"]]
                    if sorted(states) == ["PRIMARY"] + ["SECONDARY"] * (len(self.members) - 1):
                        return self
                if time.monotonic() > deadline:
                    self.kill()
                    raise TimeoutError(f"replica set {self.name} not formed after {timeout}s")
                time.sleep(0.2)
        finally:
            first.close()

    def status(self) -> dict[str, object]:
        """replSetGetStatus as the primary sees it."""
        with MongoClient(self.url, serverSelectionTimeoutMS=2000) as client:
            status: dict[str, object] = client.admin.command("replSetGetStatus")
            return status

    def primary(self) -> LocalMongod:
        """The member that is primary now."""
        with MongoClient(self.url, serverSelectionTimeoutMS=20000) as client:
            client.admin.command("ping")  # waits until there is a primary
            _, port = client.primary or ("", 0)
        return next(m for m in self.members if m.port == port)

    def elected_at(self) -> float:
        """When the current primary won its election (seconds since the epoch)."""
        for member in self.status()["members"]:  # type: ignore[attr-defined]
            if member["stateStr"] == "PRIMARY":
                elected: datetime = member["electionDate"]
                return elected.replace(tzinfo=UTC).timestamp()
        raise AssertionError("no primary")

    def kill(self) -> None:
        """SIGKILL every member still running (the data is thrown away)."""
        for member in self.members:
            member.kill()
