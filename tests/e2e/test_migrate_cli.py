"""`migrate up|down --to N`: the same exit codes and messages whichever way N is off, and a
refused rollback names the command that was run and claims nothing it did not do."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from bench.server_process import ServerProcess
from service.storage.migrations.guard import needed_version
from tests import ROOT
from tests.api.helpers import BASE
from tests.e2e.test_cli_startup import environment

NEWEST = needed_version()


def migrate(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m service migrate ...`, to its end."""
    return subprocess.run(
        [sys.executable, "-m", "service", "migrate", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip


def test_a_target_on_the_wrong_side_or_out_of_range_is_an_error_either_way(
    mongo_url: str, db_name: str
) -> None:
    env = environment(MONGODB_URL=mongo_url, MONGODB_DB=db_name)
    assert migrate(env, "up").returncode == 0
    expected = {
        ("down", "--to", "99"): f"error: no version 99: versions are 0 to {NEWEST}",
        ("up", "--to", "99"): f"error: no version 99: versions are 0 to {NEWEST}",
        ("up", "--to", "-1"): f"error: no version -1: versions are 0 to {NEWEST}",
        ("down", "--to", "-1"): f"error: no version -1: versions are 0 to {NEWEST}",
        ("up", "--to", "3"): f"error: the database is at version {NEWEST}, above 3: "
        "use `python -m service migrate down --to 3`",
    }
    for args, message in expected.items():
        done = migrate(env, *args)
        assert (done.returncode, done.stderr.strip(), done.stdout) == (1, message, ""), args
    at_newest = migrate(env, "down", "--to", str(NEWEST))
    assert at_newest.returncode == 0, at_newest.stderr
    assert at_newest.stdout.endswith(
        f"0 migration(s) run; database {db_name} is at version {NEWEST}\n"
    )

    assert migrate(env, "down", "--to", str(NEWEST - 1)).returncode == 0
    above = migrate(env, "down", "--to", str(NEWEST))
    assert (above.returncode, above.stderr.strip()) == (
        1,
        f"error: the database is at version {NEWEST - 1}, below {NEWEST}: "
        f"use `python -m service migrate up --to {NEWEST}`",
    )
    assert migrate(env, "up", "--to", str(NEWEST - 1)).returncode == 0  # there already: nothing
    assert migrate(env, "up").returncode == 0


def test_a_refused_forced_rollback_names_its_command_and_claims_no_stop(
    mongo_url: str, db_name: str
) -> None:
    """0010's rollback refuses while a project besides `default` exists; `down --to 9 --force`
    stops the live server for it first: the error says so, nothing on stdout says it stopped,
    and it serves again once the versions it needs (those above 10, rolled back before 0010
    refused) are applied again."""
    server = ServerProcess(mongo_url, db_name).start()
    try:
        created = httpx.post(
            server.base_url + "/api/v1/projects", json={"name": "team-a"}, headers=server.headers
        )
        assert created.status_code == 201, created.text

        forced = migrate(server.env, "down", "--to", "9", "--force")
        assert forced.returncode == 1, forced.stderr
        assert "stopped" not in forced.stdout
        assert "projects other than 'default' exist (team-a)" in forced.stderr
        assert "run `python -m service migrate down --to 9 --force` again" in forced.stderr
        assert forced.stderr.rstrip().endswith(
            "1 live server(s) stopped using the database for this rollback; each serves again "
            "by itself while the versions it needs are applied"
        ), forced.stderr
        # The versions above 0010 rolled back before it refused: the server needs them again.
        assert migrate(server.env, "up").returncode == 0
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            listed = httpx.get(server.base_url + BASE, headers=server.headers, timeout=10)
            if listed.status_code == 200:
                break
            time.sleep(0.1)
        assert listed.status_code == 200, listed.text

        refused = migrate(server.env, "down", "--to", "9")  # without --force: no server stops
        assert refused.returncode == 1
        assert f"pid {server.pid}" in refused.stderr and "--force" in refused.stderr
        assert "stopped" not in refused.stdout + refused.stderr
    finally:
        assert server.stop() == 0


@pytest.mark.parametrize("command", [("up",), ("status",)])
def test_a_mongodb_that_fails_is_named_without_its_password(command: tuple[str, ...]) -> None:
    with socket_nobody_answers() as port:
        url = f"mongodb://inventory:s3cret-pw@127.0.0.1:{port}/?serverSelectionTimeoutMS=500"
        done = migrate(environment(MONGODB_URL=url, MONGODB_TIMEOUT_MS="500"), *command)
    assert done.returncode != 0
    assert "s3cret-pw" not in done.stdout + done.stderr
    assert "mongodb://***@127.0.0.1" in done.stderr


@contextlib.contextmanager
def socket_nobody_answers() -> Iterator[int]:
    """A local port with nothing listening on it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]
