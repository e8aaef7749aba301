"""Helpers for tests that run the real server as a process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from service.db import free_port

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

    def start(self, wait_ready: bool = True, timeout: float = 30.0) -> ServerProcess:
        """Start the process and wait until /health/live (and /health/ready) answer 200."""
        self.process = subprocess.Popen(
            [sys.executable, "-m", "service", "serve"],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        self.wait_for("/health/ready" if wait_ready else "/health/live", timeout)
        return self

    def wait_for(self, path: str, timeout: float = 30.0) -> None:
        """Poll `path` until it answers 200."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                out = self.process.stdout.read().decode() if self.process.stdout else ""
                raise RuntimeError(f"server exited with {self.process.returncode}:\n{out}")
            try:
                if httpx.get(self.base_url + path, timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"{path} not 200 after {timeout}s")

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
        return self.process.returncode

    def output(self) -> str:
        """Everything the process printed (after it stopped)."""
        if self.process is None or self.process.stdout is None:
            return ""
        return self.process.stdout.read().decode(errors="replace")
