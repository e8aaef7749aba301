"""`migrate down` under a running server: refused, or (--force) the server stops writing first."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from typing import Any

import httpx
from pymongo import MongoClient

from bench.server_process import ServerProcess
from service.storage.migrations.guard import needed_version
from tests import ROOT
from tests.api.helpers import BASE, assert_problem, vm_body

NEWEST = needed_version()


def migrate(server: ServerProcess, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m service migrate ...` against the server's database."""
    return subprocess.run(
        [sys.executable, "-m", "service", "migrate", *args],
        cwd=ROOT,
        env=server.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def wait_status(url: str, status: int, limit: float = 30.0) -> float:
    """Poll `url` until it answers `status`; return the seconds it took (bounded, not asserted)."""
    started = time.monotonic()
    while httpx.get(url, timeout=10).status_code != status:
        assert time.monotonic() - started < limit, f"{url} never answered {status}"
        time.sleep(0.05)
    return time.monotonic() - started


class Writer(threading.Thread):
    """Creates VMs with case-variant names in a loop, recording every answer."""

    def __init__(self, server: ServerProcess) -> None:
        """Write to `server` with its admin key."""
        super().__init__(daemon=True)
        self.server = server
        self.answers: list[tuple[float, httpx.Response]] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        """Create until told to stop."""
        variants = ["dup", "Dup", "DUP", "dUp", "duP"]
        with httpx.Client(base_url=self.server.base_url, headers=self.server.headers) as client:
            n = 0
            while not self.stopping.is_set():
                name = f"{variants[n % len(variants)]}-{n // 50}"
                response = client.post(BASE, json=vm_body(name=name), timeout=30)
                self.answers.append((time.monotonic(), response))
                n += 1


def test_a_rollback_under_a_running_server_never_writes_into_the_old_schema(
    mongo_url: str, db_name: str
) -> None:
    server = ServerProcess(mongo_url, db_name, SCHEMA_CHECK_SECONDS="0.5").start()
    client: MongoClient[dict[str, Any]] = MongoClient(mongo_url)
    db = client[db_name]
    try:
        created = httpx.post(
            server.base_url + BASE, json=vm_body(name="kept"), headers=server.headers
        )
        assert created.status_code == 201

        refused = migrate(server, "down", "--to", "0")
        assert refused.returncode == 1, refused.stderr
        assert f"pid {server.pid}" in refused.stderr
        assert f"needs version {NEWEST}" in refused.stderr
        assert "--force" in refused.stderr
        got = httpx.get(server.base_url + created.headers["location"], headers=server.headers)
        assert got.status_code == 200

        writer = Writer(server)
        writer.start()
        while len(writer.answers) < 20:  # writing is under way
            time.sleep(0.01)
        down_started = time.monotonic()
        forced = migrate(server, "down", "--to", "0", "--force")
        down_done = time.monotonic()
        assert forced.returncode == 0, forced.stderr
        assert "1 live server(s) stopped using the database" in forced.stdout
        while len([a for a in writer.answers if a[0] > down_done]) < 20:
            time.sleep(0.01)
        writer.stopping.set()
        writer.join(30)

        statuses = {r.status_code for _, r in writer.answers}
        assert statuses <= {201, 409, 503}, statuses
        assert [r.status_code for t, r in writer.answers if t > down_done] == [503] * len(
            [t for t, _ in writer.answers if t > down_done]
        )
        for _, response in writer.answers:
            if response.status_code == 503:
                problem = assert_problem(response, 503)
                assert int(response.headers["retry-after"]) > 0
                assert "not ready" in problem["detail"]
        # Nothing landed after the rollback: every collection it dropped is still gone.
        assert [n for n in db.list_collection_names() if not n.startswith("schema_")] == []

        # Until its next check the server still names the rollback, then what it lacks.
        deadline = time.monotonic() + 30
        while True:
            problem = assert_problem(httpx.get(server.base_url + "/health/ready"), 503)
            if "lacks version(s)" in problem["detail"]:
                break
            assert "is rolling the schema back below version" in problem["detail"]
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert "migrate up" in problem["detail"]

        assert migrate(server, "up").returncode == 0
        recovered = wait_status(server.base_url + "/health/ready", 200)
        token = server.create_api_key("after-up")
        again = httpx.post(
            server.base_url + BASE,
            json=vm_body(name="after-up"),
            headers={"Authorization": f"Bearer {token}"},
        )
        assert again.status_code == 201, again.text

        # A schema changed behind the server's back (no `migrate down`): noticed by the watcher.
        removed = db.schema_migrations.find_one_and_delete({"_id": NEWEST})
        noticed = wait_status(server.base_url + "/health/ready", 503)
        db.schema_migrations.insert_one(removed)
        wait_status(server.base_url + "/health/ready", 200)

        first_503 = min(t for t, r in writer.answers if r.status_code == 503)
        print(
            f"\n[figures] down --force took {down_done - down_started:.2f} s; first 503 "
            f"{first_503 - down_started:.2f} s after it started; ready again "
            f"{recovered:.2f} s after `migrate up` exited; a history change noticed in "
            f"{noticed:.2f} s (SCHEMA_CHECK_SECONDS=0.5)"
        )
    finally:
        client.close()
        assert server.stop() == 0, server.output()
