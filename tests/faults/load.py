"""A bounded stream of CreateVM requests from background threads, every outcome recorded."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import httpx


@dataclass
class Outcome:
    """One request: its status (0 when no response came) and the VM name it registered."""

    status: int
    name: str
    started: float
    ended: float
    error: str = ""


def vm_body(name: str) -> dict[str, object]:
    """A valid CreateVM body."""
    return {"name": name, "os": "debian-12", "cpu_cores": 1, "memory_mib": 512, "storage_gib": 5}


class CreateStream:
    """`workers` threads registering VMs one after another until stop(), bounded in count and time.

    Every response is recorded; a request without a response is status 0 (and is retried only
    after a short pause, so a refused connection does not spin).
    """

    def __init__(
        self,
        base_url: str,
        headers: dict[str, str],
        workers: int = 2,
        max_requests: int = 4000,
        max_seconds: float = 60.0,
        timeout: float = 10.0,
    ) -> None:
        """Describe the stream; start() runs it."""
        self.base_url = base_url
        self.headers = headers
        self.workers = workers
        self.max_requests = max_requests
        self.max_seconds = max_seconds
        self.timeout = timeout
        self.outcomes: list[Outcome] = []
        self.prefix = f"f{uuid.uuid4().hex[:8]}"
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> CreateStream:
        """Start the threads."""
        deadline = time.time() + self.max_seconds
        for worker in range(self.workers):
            thread = threading.Thread(target=self._run, args=(worker, deadline), daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def _run(self, worker: int, deadline: float) -> None:
        with httpx.Client(base_url=self.base_url, headers=self.headers, timeout=self.timeout) as c:
            i = 0
            while (
                not self._stop.is_set()
                and time.time() < deadline
                and len(self.outcomes) < self.max_requests
            ):
                i += 1
                name = f"{self.prefix}-{worker}-{i}"
                started = time.time()
                try:
                    status = c.post("/api/v1/vms", json=vm_body(name)).status_code
                    self.outcomes.append(Outcome(status, name, started, time.time()))
                except httpx.HTTPError as exc:
                    ended = time.time()
                    self.outcomes.append(Outcome(0, name, started, ended, repr(exc)))
                    time.sleep(0.05)

    def count(self, status: int, since: float = 0.0) -> int:
        """How many requests started after `since` got `status`."""
        return sum(1 for o in list(self.outcomes) if o.status == status and o.started >= since)

    def wait_until(self, condition: Callable[[], bool], timeout: float, what: str) -> None:
        """Poll `condition` until true; fail after `timeout` seconds."""
        deadline = time.time() + timeout
        while not condition():
            if time.time() > deadline:
                raise AssertionError(f"timed out waiting for {what}: {self.summary()}")
            time.sleep(0.05)

    def stop(self) -> list[Outcome]:
        """Stop the threads and return every outcome."""
        self._stop.set()
        for thread in self._threads:
            thread.join(self.timeout + 5)
        return list(self.outcomes)

    def summary(self) -> dict[int, int]:
        """Count of outcomes per status."""
        counts: dict[int, int] = {}
        for outcome in list(self.outcomes):
            counts[outcome.status] = counts.get(outcome.status, 0) + 1
        return counts

    def created_names(self) -> set[str]:
        """Names of the VMs whose CreateVM answered 201."""
        return {o.name for o in list(self.outcomes) if o.status == 201}
