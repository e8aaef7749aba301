"""The real server as a process (`python -m service serve`), for tests/e2e, tests/faults and the
benchmarks in scripts/ that measure the production command."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from service.storage.mongod import free_port

ROOT = Path(__file__).resolve().parent.parent


class ServerProcess:
    """`python -m service serve` (the production command) on a free port, against `mongodb_url`."""

    def __init__(self, mongodb_url: str, db_name: str, **env: str) -> None:
        """Describe a server; `env` adds or overrides environment variables (settings)."""
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "MONGODB_URL": mongodb_url,
            "MONGODB_DB": db_name,
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "MIGRATE_ON_START": "true",
            "LOG_LEVEL": "WARNING",
            **env,
        }
        self.process: subprocess.Popen[bytes] | None = None
        if "DEV_API_KEY_FILE" not in self.env:
            self._key_dir: Path | None = Path(tempfile.mkdtemp(prefix="vm-inventory-key-"))
            self.env["DEV_API_KEY_FILE"] = str(self._key_dir / "dev-api-key")
        else:
            self._key_dir = None
        self.token = ""
        # A file, not a pipe: a chatty server (INFO logs under load) never blocks on a full pipe.
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 - closed by output()

    def create_api_key(self, name: str, scope: str = "admin") -> str:
        """Run `python -m service apikey create` against the server's database; return the token."""
        done = subprocess.run(
            [sys.executable, "-m", "service", "apikey", "create", "--name", name, "--scope", scope],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return done.stdout.strip().splitlines()[-1]

    @property
    def headers(self) -> dict[str, str]:
        """The Authorization header of the admin key `dev` (see start())."""
        return {"Authorization": f"Bearer {self.token}"}

    def start(self, wait_ready: bool = True, timeout: float = 30.0) -> ServerProcess:
        """Start the process, wait until /health/live (and /health/ready) answer 200.

        `serve` creates the admin key `dev` in DEV_API_KEY_FILE; its token is in `self.token`.
        """
        self.process = subprocess.Popen(
            [sys.executable, "-m", "service", "serve"],
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.wait_for("/health/ready" if wait_ready else "/health/live", timeout)
        key_file = Path(self.env["DEV_API_KEY_FILE"])
        # No key file when MongoDB did not answer at start (serve makes the key only then).
        self.token = key_file.read_text().strip() if key_file.exists() else ""
        return self

    def wait_for(self, path: str, timeout: float = 30.0) -> None:
        """Poll `path` until it answers 200."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"server exited with {self.process.returncode}:\n{self.output()}"
                )
            try:
                if httpx.get(self.base_url + path, timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"{path} not 200 after {timeout}s")

    @property
    def pid(self) -> int:
        """The server's process id."""
        assert self.process is not None
        return self.process.pid

    def terminate(self) -> None:
        """Send SIGTERM and return at once (see `wait` and `stop`)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)

    def wait(self, timeout: float = 20.0) -> int:
        """Wait for the process to exit and return its exit code."""
        assert self.process is not None
        return self.process.wait(timeout)

    def stop(self, timeout: float = 20.0) -> int:
        """SIGTERM, wait, and return the exit code (SIGKILL if it does not stop in time)."""
        if self.process is None:
            return 0
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._key_dir is not None:
            shutil.rmtree(self._key_dir, ignore_errors=True)  # the dev key file made for this run
        return self.process.returncode

    def output(self) -> str:
        """Everything the process printed so far."""
        self.log.seek(0)
        return self.log.read().decode(errors="replace")
