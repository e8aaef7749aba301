"""Racing writers into one project with a quota (creates, resizes, deletes, restores) from
background threads, and a monitor that checks, snapshot by snapshot, that the project's usage
ledger equals a count of its live VMs and stays within the quota."""

from __future__ import annotations

import random
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
from pymongo import MongoClient
from pymongo.errors import PyMongoError

from bench.server_process import ROOT, ServerProcess
from service.domain.projects import RESOURCES
from service.storage.usage import SHARDS

QUOTA_TYPE = "https://vm-inventory.dev/problems/quota-exceeded"
# Every answer a racing writer may get: the VM another writer deleted or restored meanwhile
# (404, 409 not-deleted), the quota (409), MongoDB between primaries (503).
EXPECTED = {200, 201, 204, 404, 409, 412, 503}


def vm_body(name: str, project: str, cpu_cores: int) -> dict[str, object]:
    """A CreateVM body in `project`."""
    return {"name": name, "project": project, "os": "debian-12", "cpu_cores": cpu_cores,
            "memory_mib": 512 * cpu_cores, "storage_gib": 5}  # fmt: skip


def make_project(base_url: str, headers: dict[str, str], name: str, quota: dict[str, Any]) -> None:
    """CreateProject `name` with `quota` (201 expected)."""
    body = {"name": name, "quota": quota}
    response = httpx.post(f"{base_url}/api/v1/projects", json=body, headers=headers, timeout=30)
    assert response.status_code == 201, response.text


def counted(db: Any, project: str) -> dict[str, int]:
    """What the project's live VMs use, counted from `vms`."""
    return _counted(db, project, None)


def _counted(db: Any, project: str, session: Any) -> dict[str, int]:
    pipeline = [
        {"$match": {"project": project, "deleted_at": None}},
        {"$group": {"_id": None, "vms": {"$sum": 1},
                    **{r: {"$sum": f"${r}"} for r in RESOURCES[1:]}}},
    ]  # fmt: skip
    docs = list(db.vms.aggregate(pipeline, session=session))
    return {r: int(docs[0][r]) if docs else 0 for r in RESOURCES}


def _ledger(db: Any, project: str, session: Any) -> dict[str, int]:
    shards = list(db.project_usage.find({"project": project}, session=session))
    assert len(shards) == SHARDS, len(shards)
    return {r: sum(int(s["used"][r]) for s in shards) for r in RESOURCES}


def recount(server: ServerProcess) -> subprocess.CompletedProcess[str]:
    """`python -m service project recount` against the server's database."""
    return subprocess.run(
        [sys.executable, "-m", "service", "project", "recount"],
        cwd=ROOT, env=server.env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


@dataclass
class Pool:
    """The VMs the writers made, by id: True while they believe it live, False once deleted."""

    vms: dict[str, bool] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def pick(self, live: bool, rng: random.Random) -> str | None:
        """A VM believed live (or deleted), or None."""
        with self.lock:
            ids = [i for i, is_live in self.vms.items() if is_live is live]
        return rng.choice(ids) if ids else None

    def mark(self, vm_id: str, live: bool) -> None:
        """Record what a write did."""
        with self.lock:
            self.vms[vm_id] = live


class QuotaStream:
    """`workers` threads writing into `project` at random until stop(), every answer counted;
    plus a monitor comparing the ledger with the live VMs in one snapshot, over and over."""

    def __init__(
        self,
        server: ServerProcess,
        mongodb_url: str,
        project: str,
        quota: dict[str, Any],
        workers: int = 6,
        max_seconds: float = 240.0,
        timeout: float = 30.0,
    ) -> None:
        """Describe the stream; start() runs it."""
        self.server = server
        self.mongodb_url = mongodb_url
        self.project = project
        self.quota = quota
        self.workers = workers
        self.max_seconds = max_seconds
        self.timeout = timeout
        self.pool = Pool()
        self.answers: Counter[tuple[str, int | str]] = Counter()
        self.refused: Counter[str] = Counter()  # quota-exceeded answers, by kind of write
        self.successes: list[float] = []  # when each write that changed something returned
        self.snapshots = 0  # monitor samples where ledger and count were compared
        self.violations: list[str] = []
        self.prefix = f"q{uuid.uuid4().hex[:6]}"
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> QuotaStream:
        """Start the writers and the monitor."""
        deadline = time.time() + self.max_seconds
        for worker in range(self.workers):
            thread = threading.Thread(target=self._write, args=(worker, deadline), daemon=True)
            self._threads.append(thread)
        self._threads.append(threading.Thread(target=self._monitor, args=(deadline,), daemon=True))
        for thread in self._threads:
            thread.start()
        return self

    def successes_since(self, moment: float) -> int:
        """How many writes that changed something returned after `moment`."""
        return sum(1 for s in list(self.successes) if s >= moment)

    def wait_for_successes(self, count: int, since: float, timeout: float, what: str) -> None:
        """Poll until `count` writes succeeded after `since`; fail after `timeout` seconds."""
        deadline = time.time() + timeout
        while self.successes_since(since) < count:
            if time.time() > deadline:
                raise AssertionError(f"timed out waiting for {what}: {dict(self.answers)}")
            time.sleep(0.05)

    def stop(self) -> None:
        """Stop every thread and wait for them."""
        self._stop.set()
        for thread in self._threads:
            thread.join(self.timeout + 10)

    def _write(self, worker: int, deadline: float) -> None:
        rng = random.Random(worker)
        api = f"{self.server.base_url}/api/v1/vms"
        i = 0
        while not self._stop.is_set() and time.time() < deadline:
            # The token may change across a server restart (same key file, same token).
            headers = self.server.headers
            i += 1
            op = rng.choices(["create", "resize", "delete", "restore"], [4, 3, 2, 2])[0]
            vm_id = None if op == "create" else self.pool.pick(op != "restore", rng)
            if op != "create" and vm_id is None:
                op = "create"
            try:
                with httpx.Client(headers=headers, timeout=self.timeout) as c:
                    if op == "create":
                        name = f"{self.prefix}-{worker}-{i}"
                        body = vm_body(name, self.project, rng.randint(1, 4))
                        response = c.post(api, json=body)
                        if response.status_code == 201:
                            self.pool.mark(response.json()["id"], True)
                    elif op == "resize":
                        cores = rng.randint(1, 4)
                        response = c.patch(f"{api}/{vm_id}", json={"cpu_cores": cores})
                    elif op == "delete":
                        response = c.delete(f"{api}/{vm_id}", params={"force": "true"})
                        if response.status_code in (204, 404):
                            self.pool.mark(str(vm_id), False)
                    else:
                        response = c.post(f"{api}/{vm_id}/restore")
                        if response.status_code == 200:
                            self.pool.mark(str(vm_id), True)
            except httpx.HTTPError as exc:
                self.answers[(op, type(exc).__name__)] += 1
                time.sleep(0.05)
                continue
            self.answers[(op, response.status_code)] += 1
            if response.status_code in (200, 201, 204):
                self.successes.append(time.time())
            elif response.status_code == 409 and response.json().get("type") == QUOTA_TYPE:
                self.refused[op] += 1
                self._check_refusal(response.json())
            elif response.status_code not in EXPECTED:
                self.violations.append(f"{op} answered {response.status_code}: {response.text}")

    def _check_refusal(self, problem: dict[str, Any]) -> None:
        """A quota refusal must be one: the limit is the quota, and the request would pass it."""
        resource = problem["resource"]
        limit, used, requested = problem["limit"], problem["used"], problem["requested"]
        if problem["project"] != self.project or limit != self.quota[resource]:
            self.violations.append(f"refusal of another quota: {problem}")
        if not used + requested > limit:
            self.violations.append(f"refused within the quota: {problem}")
        if used > limit:
            self.violations.append(f"usage past the quota: {problem}")

    def _monitor(self, deadline: float) -> None:
        """In one snapshot: ledger == live VMs' count, and within the quota."""
        with MongoClient(self.mongodb_url, serverSelectionTimeoutMS=2000) as client:
            db = client[self.server.env["MONGODB_DB"]]
            while not self._stop.is_set() and time.time() < deadline:
                try:
                    with client.start_session(snapshot=True) as session:
                        ledger = _ledger(db, self.project, session)
                        live = _counted(db, self.project, session)
                except PyMongoError:
                    time.sleep(0.2)  # between primaries, or the snapshot is not available yet
                    continue
                self.snapshots += 1
                if ledger != live:
                    self.violations.append(f"ledger {ledger} != live VMs {live}")
                for resource, limit in self.quota.items():
                    if limit is not None and live[resource] > limit:
                        self.violations.append(f"{resource} {live[resource]} past {limit}")
                time.sleep(0.05)
