"""Start-up as a user meets it: the local mongod, a port in use, Ctrl-C, scripts/run's key."""

from __future__ import annotations

import http.server
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from service.config import Settings
from service.storage.mongod import LocalMongod, free_port
from tests import ROOT


def environment(**settings: str) -> dict[str, str]:
    """This process's environment without any setting of the service, plus `settings`."""
    env = {k: v for k, v in os.environ.items() if k.lower() not in Settings.model_fields}
    return env | {"LOG_LEVEL": "WARNING"} | settings


def cli(env: dict[str, str], *args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """`python -m service ...`, to its end."""
    return subprocess.run(
        [sys.executable, "-m", "service", *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip


@pytest.fixture
def running_mongod(tmp_path: Path) -> Iterator[LocalMongod]:
    """A local mongod keeping its data in tmp_path/first/mongo, as DATA_DIR=tmp_path/first would."""
    mongod = LocalMongod(tmp_path / "first" / "mongo", free_port())
    mongod.start()
    yield mongod
    mongod.stop()


def test_the_local_mongod_of_this_data_directory_is_reused_and_said_so(
    running_mongod: LocalMongod, tmp_path: Path
) -> None:
    env = environment(DATA_DIR=str(tmp_path / "first"), LOCAL_MONGOD_PORT=str(running_mongod.port))
    done = cli(env, "migrate", "status")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(
        f"using the local mongod already running on 127.0.0.1:{running_mongod.port} "
        f"(data in {running_mongod.dbpath})\n"
    ), done.stdout
    assert "starting local mongod" not in done.stdout
    assert running_mongod.process is not None and running_mongod.process.poll() is None  # kept


def test_a_mongod_of_another_data_directory_is_refused_in_one_line(
    running_mongod: LocalMongod, tmp_path: Path
) -> None:
    second = tmp_path / "second"
    env = environment(DATA_DIR=str(second), LOCAL_MONGOD_PORT=str(running_mongod.port))
    for command in (["migrate", "status"], ["serve"], ["apikey", "list"]):
        done = cli(env, *command)
        assert done.returncode == 1, (command, done.stdout, done.stderr)
        assert done.stdout == "", command  # nothing was started, nothing claims so
        lines = done.stderr.splitlines()
        assert len(lines) == 1, done.stderr
        assert lines[0].startswith(f"error: port {running_mongod.port} has a mongod"), lines
        assert str(running_mongod.dbpath) in lines[0]
        assert "LOCAL_MONGOD_PORT" in lines[0]
    assert not (second / "mongo").exists()


def test_something_else_on_the_mongod_port_is_one_line_at_once(tmp_path: Path) -> None:
    web = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    threading.Thread(target=web.serve_forever, daemon=True).start()
    try:
        port = web.server_address[1]
        env = environment(DATA_DIR=str(tmp_path), LOCAL_MONGOD_PORT=str(port))
        done = cli(env, "migrate", "status")
    finally:
        web.shutdown()
        web.server_close()
    assert done.returncode == 1, done.stderr
    assert done.stderr.splitlines() == [
        f"error: port {port} is taken by something that does not answer as a mongod: "
        "stop it, or set LOCAL_MONGOD_PORT to a free port"
    ]


def test_a_fresh_data_directory_starts_a_mongod_and_says_so(tmp_path: Path) -> None:
    port = free_port()
    env = environment(DATA_DIR=str(tmp_path), LOCAL_MONGOD_PORT=str(port))
    done = cli(env, "migrate", "status")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(
        f"starting local mongod on 127.0.0.1:{port} (data in {tmp_path / 'mongo'})\n"
    ), done.stdout
    with socket.socket() as sock:  # and stopped it on exit
        assert sock.connect_ex(("127.0.0.1", port)) != 0


def test_a_data_dir_that_cannot_be_made_is_one_line(tmp_path: Path) -> None:
    a_file = tmp_path / "file"
    a_file.write_text("")
    env = environment(DATA_DIR=str(a_file), LOCAL_MONGOD_PORT=str(free_port()))
    done = cli(env, "migrate", "status")
    assert done.returncode == 1, done.stderr
    assert done.stderr.splitlines() == [
        f"error: cannot keep the local mongod's data in {a_file / 'mongo'} (Not a directory): "
        "set DATA_DIR to a directory you can write"
    ]


def test_a_port_in_use_is_one_line_before_serving_is_announced(
    mongo_url: str, db_name: str
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = environment(
            MONGODB_URL=mongo_url, MONGODB_DB=db_name, PORT=str(port), MIGRATE_ON_START="true"
        )
        done = cli(env, "serve")
    assert done.returncode == 1, done.stderr
    assert "serving on" not in done.stdout
    assert done.stderr.splitlines() == [
        f"error: cannot listen on 127.0.0.1:{port} (Address already in use): "
        "stop what uses it, or set PORT (or HOST)"
    ]


def test_serving_is_announced_once_listening(mongo_url: str, db_name: str) -> None:
    env = environment(MONGODB_URL=mongo_url, MONGODB_DB=db_name, PORT="0", MIGRATE_ON_START="true")
    process = subprocess.Popen(
        [sys.executable, "-m", "service", "serve"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        while line and not line.startswith("serving on"):
            line = process.stdout.readline()
        assert line.startswith("serving on http://127.0.0.1:"), line
        url = line.split()[2]
        assert not url.endswith(":0")  # PORT=0: the port the system chose
        # Announced after binding: the port takes connections from that moment.
        with socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1])), timeout=30):
            pass
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(url + "/health/live", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        assert httpx.get(url + "/health/live", timeout=5).status_code == 200
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0


class ResettingServer(threading.Thread):
    """A port whose every connection is reset at once: a MongoDB that never answers, which the
    driver keeps retrying; `connected` is set at the first connection."""

    def __init__(self) -> None:
        """Listen on a free port."""
        super().__init__(daemon=True)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.sock.settimeout(0.1)
        self.port: int = self.sock.getsockname()[1]
        self.connected = threading.Event()
        self.stopping = threading.Event()

    def run(self) -> None:
        """Accept and reset until stopped."""
        while not self.stopping.is_set():
            try:
                connection, _ = self.sock.accept()
            except TimeoutError:
                continue
            connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            connection.close()
            self.connected.set()
        self.sock.close()


def test_ctrl_c_while_waiting_for_mongodb_exits_130_quietly() -> None:
    """SIGINT while start-up waits (MONGODB_TIMEOUT_MS) for a MongoDB that never answers."""
    mongodb = ResettingServer()
    mongodb.start()
    url = f"mongodb://127.0.0.1:{mongodb.port}/?directConnection=true"
    env = environment(MONGODB_URL=url, MONGODB_TIMEOUT_MS="600000", PORT=str(free_port()))
    process = subprocess.Popen(
        [sys.executable, "-m", "service", "serve"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        # As from a terminal: a pytest-xdist worker ignores SIGINT, and a child inherits that.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    try:
        assert mongodb.connected.wait(120)  # start-up is now waiting for MongoDB
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        mongodb.stopping.set()
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    assert out == ""
    assert err == ""


def test_scripts_run_keeps_the_dev_key_in_data_dir(
    mongo_url: str, db_name: str, tmp_path: Path
) -> None:
    default_key = ROOT / ".data" / "dev-api-key"
    before = default_key.stat().st_mtime_ns if default_key.exists() else None
    port = free_port()
    env = environment(
        MONGODB_URL=mongo_url, MONGODB_DB=db_name, PORT=str(port), DATA_DIR=str(tmp_path)
    )
    process = subprocess.Popen(
        [str(ROOT / "scripts" / "run")],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        output = []
        for line in process.stdout:
            output.append(line)
            if line.startswith("serving on"):
                break
        assert any(line.startswith("serving on") for line in output), "".join(output)
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=60)
    key = (tmp_path / "dev-api-key").read_text().strip()
    assert f"kept in {tmp_path / 'dev-api-key'}" in "".join(output)
    assert f"Bearer {key}" in "".join(output)
    assert (default_key.stat().st_mtime_ns if default_key.exists() else None) == before
