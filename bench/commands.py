"""The driver's command log of each VM call: `python -m bench.commands [--repeat N]`.

Serves the real app in-process (create_app, AsyncTestClient: routing, auth, validation, the
write path; no network) on a throwaway mongod, with a PyMongo CommandListener registered before
the app builds its client. For each call it prints the commands the service sent (name,
collection, in a transaction or not, server round-trip time) and the request's wall time, so a
call's round trips, with_transaction's retries and the share of time outside the database (the
HTTP layer and the service's Python) show. The median of `--repeat` calls of each kind.
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from litestar.testing import AsyncTestClient
from pymongo import AsyncMongoClient, monitoring

from service.config import Settings
from service.domain.apikeys import Scope
from service.http.app import create_app
from service.storage.api_keys import ApiKeyRepository
from service.storage.migrations.runner import upgrade
from service.storage.mongod import LocalMongod, free_port

# Set while a call is made: the commands of its task and the tasks it starts (which copy the
# context), not those of the app's background tasks (the watch hub's change stream, heartbeats).
IN_CALL = contextvars.ContextVar("IN_CALL", default=False)
BODY = {"os": "ubuntu-24.04", "cpu_cores": 2, "memory_mib": 2048, "storage_gib": 20,
        "labels": {"env": "bench"}}  # fmt: skip


def background(command: str, collection: str) -> bool:
    """Whether a command is the app's background work, started in a task a call's context made:
    the watch hub's change stream (its getMore: no call here reads past a first batch) and the
    schema heartbeat (schema_* collections)."""
    return command == "getMore" or collection.startswith("schema_")


class Log(monitoring.CommandListener):
    """Every command the driver sends: (name, collection, in a transaction, microseconds)."""

    def __init__(self) -> None:
        """An empty log."""
        self.pending: dict[int, tuple[str, str, bool]] = {}
        self.done: list[tuple[str, str, bool, float]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        """A command a call sent (`autocommit: false` only inside a transaction)."""
        target = event.command.get(event.command_name)
        collection = target if isinstance(target, str) else ""
        if not IN_CALL.get() or background(event.command_name, collection):
            return
        in_txn = event.command.get("autocommit") is False
        self.pending[event.request_id] = (event.command_name, collection, in_txn)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        """A command answered."""
        if (started := self.pending.pop(event.request_id, None)) is not None:
            self.done.append((*started, event.duration_micros))

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        """A command that failed (a transient transaction error shows as one and a retry)."""
        if (started := self.pending.pop(event.request_id, None)) is not None:
            name, collection, txn = started
            self.done.append((f"{name} FAILED", collection, txn, event.duration_micros))


async def calls(url: str, repeat: int) -> None:
    """Make `repeat` calls of each kind; print each kind's commands and times."""
    log = Log()
    monitoring.register(log)
    db_name = f"commands_{uuid.uuid4().hex[:6]}"
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(url, tz_aware=True)
    await upgrade(mongo[db_name])
    token = await ApiKeyRepository(mongo[db_name]).create("bench", Scope.ADMIN)
    settings = Settings(_env_file=None, mongodb_url=url, mongodb_db=db_name,
                        rate_limit_per_minute=10_000_000)  # fmt: skip
    async with AsyncTestClient(app=create_app(settings)) as client:
        client.headers["Authorization"] = f"Bearer {token}"
        ids = []
        for i in range(repeat * 3):
            response = await client.post("/api/v1/vms", json={**BODY, "name": f"c-{i}"})
            ids.append(response.json()["id"])
        patch = {"Content-Type": "application/merge-patch+json"}
        kinds: dict[str, Callable[[int], Awaitable[Any]]] = {
            "CreateVM": lambda i: client.post("/api/v1/vms", json={**BODY, "name": f"n-{i}"}),
            "CreateVM + Idempotency-Key": lambda i: client.post(
                "/api/v1/vms", json={**BODY, "name": f"k-{i}"},
                headers={"Idempotency-Key": uuid.uuid4().hex},
            ),
            "GetVM": lambda i: client.get(f"/api/v1/vms/{ids[i]}"),
            "UpdateVM, first (from revision 1)": lambda i: client.patch(
                f"/api/v1/vms/{ids[i]}", content=b'{"labels":{"bench":"1"}}', headers=patch
            ),
            "UpdateVM, later": lambda i: client.patch(
                f"/api/v1/vms/{ids[i]}", content=b'{"labels":{"bench":"2"}}', headers=patch
            ),
            "UpdateVM, later + If-Match": lambda i: client.patch(
                f"/api/v1/vms/{ids[i]}", content=b'{"labels":{"bench":"3"}}',
                headers={**patch, "If-Match": '"3"'},
            ),
            "UpdateVM, later + Idempotency-Key": lambda i: client.patch(
                f"/api/v1/vms/{ids[i]}", content=b'{"labels":{"bench":"4"}}',
                headers={**patch, "Idempotency-Key": uuid.uuid4().hex},
            ),
            "ReplaceVM": lambda i: client.put(
                f"/api/v1/vms/{ids[i]}", json={**BODY, "name": f"c-{i}", "description": "r"}
            ),
            "DeleteVM, first write": lambda i: client.delete(f"/api/v1/vms/{ids[repeat + i]}"),
            "DeleteVM, after an update": lambda i: client.delete(f"/api/v1/vms/{ids[i]}"),
        }  # fmt: skip
        for kind, call in kinds.items():
            walls: list[float] = []
            db_times: list[float] = []
            commands: dict[str, list[float]] = {}
            for i in range(repeat):
                log.done.clear()
                mark = IN_CALL.set(True)
                started = time.perf_counter()
                response = await call(i)
                IN_CALL.reset(mark)
                walls.append((time.perf_counter() - started) * 1e6)
                if response.status_code >= 300:
                    print(f"{kind}: {response.status_code} {response.text[:200]}")
                db_times.append(sum(d for *_, d in log.done))
                for name, collection, txn, took in log.done:
                    key = f"{name} {collection}{' (in the transaction)' if txn else ''}"
                    commands.setdefault(key, []).append(took)
            wall, db = statistics.median(walls), statistics.median(db_times)
            trips = sum(map(len, commands.values())) / repeat
            print(f"\n{kind}: {trips:.1f} round trips; wall {wall:.0f} us, in MongoDB "
                  f"(round trips) {db:.0f} us, outside {wall - db:.0f} us (medians)")  # fmt: skip
            for command, times in commands.items():
                print(
                    f"  {len(times) / repeat:4.1f} x {statistics.median(times):6.0f} us  {command}"
                )
    await mongo.drop_database(db_name)
    await mongo.close()


def main() -> None:
    """Start a throwaway mongod; log the calls."""
    parser = argparse.ArgumentParser(prog="python -m bench.commands")
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-commands-") as scratch:
        mongod = LocalMongod(Path(scratch), free_port())
        try:
            asyncio.run(calls(mongod.start(), args.repeat))
        finally:
            mongod.stop()


if __name__ == "__main__":
    main()
