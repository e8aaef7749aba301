"""The servers under test: what each serves, how it is started (and in which environment)."""

from __future__ import annotations

import importlib.util
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

from service.config import Settings
from service.storage.mongod import free_port

ROOT = Path(__file__).resolve().parent.parent
# Not project dependencies: pulled into a throwaway overlay of the project env by `uv run --with`.
FASTAPI_OVERLAY = ["--with", "beanie>=2,<3", "--with", "fastapi", "--with", "uvicorn[standard]"]
GRANIAN_OVERLAY = ["--with", "granian>=2,<3"]
SCENARIOS_OF = {
    "service": ("get", "list", "create", "patch", "put", "delete"),
    "litestar": ("get", "list"),
    "litestar-tuned": ("get", "list"),
    "floor": ("get", "list", "create"),
    "floor-txn": ("create", "patch", "put", "delete"),
    "floor-embedded": ("patch", "put", "delete"),
    "fastapi": ("get", "list", "create", "patch"),
}
NAMES = tuple(SCENARIOS_OF)
DESCRIPTIONS = {
    "service": "the service: API keys, metrics, INFO access log, rate limit raised",
    "litestar": "bare Litestar + msgspec + PyMongo async, Python's default collector "
    "(bench/litestar_app.py)",
    "litestar-tuned": "the same bare Litestar app, the collector tuned as `serve` tunes it "
    "(service.http.server.freeze_startup_heap)",
    "floor": "bare ASGI + msgspec + PyMongo async, plain insert (bench/floor.py)",
    "floor-txn": "bare ASGI floor, each write and its event in one transaction; updates read, "
    "then compare-and-set (bench/floor.py)",
    "floor-embedded": "bare ASGI floor, updates read, then one compare-and-set carrying the event "
    "in a bounded array of the VM (issue 24's option; bench/floor.py)",
    "fastapi": "FastAPI + Beanie 2 + pydantic, PATCH as get + set (bench/fastapi_beanie.py)",
}


def uv() -> list[str]:
    """The uv command (scripts/bench passes the one it found in BENCH_UV)."""
    return shlex.split(os.environ.get("BENCH_UV", "uv"))


def python(overlay: list[str]) -> list[str]:
    """The Python of the project env, or of the project env plus an overlay."""
    if not overlay:
        return [sys.executable]
    return [*uv(), "run", "--frozen", "--all-extras", *overlay, "python"]


def server_overlay(server: str) -> list[str]:
    """What the project env lacks to run `server`."""
    missing = server == "granian" and importlib.util.find_spec("granian") is None
    return GRANIAN_OVERLAY if missing else []


def versions(overlay: list[str], packages: list[str]) -> dict[str, str]:
    """Installed versions of `packages` in that environment (also builds an overlay ahead)."""
    code = (
        "import importlib.metadata as m, json, sys\n"
        "print(json.dumps({p: m.version(p) for p in sys.argv[1:]}))"
    )
    done = subprocess.run(
        [*python(overlay), "-c", code, *packages],
        cwd=ROOT, capture_output=True, text=True, check=True, timeout=600,
    )  # fmt: skip
    result: dict[str, str] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@dataclass
class Running:
    """One started server process (its own process group)."""

    name: str
    process: subprocess.Popen[bytes]
    base_url: str
    server: str
    log: IO[bytes]
    command: str
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def pid(self) -> int:
        """The process started (uv for an overlay; its children are counted with it)."""
        return self.process.pid

    def wait_ready(self, path: str, timeout: float = 120) -> None:
        """Poll `path` until it answers 200; fail with the log's tail if the process exits."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited {self.process.returncode}:\n{self.tail()}")
            try:
                if httpx.get(self.base_url + path, headers=self.headers).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"{self.name} did not answer {path}:\n{self.tail()}")

    def tail(self) -> str:
        """The end of what the process printed."""
        self.log.flush()
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-3000:]

    def stop(self) -> None:
        """SIGTERM its process group, SIGKILL after 20 s."""
        for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 5)):
            if self.process.poll() is not None:
                break
            os.killpg(self.process.pid, sig)
            try:
                self.process.wait(wait)
            except subprocess.TimeoutExpired:
                continue
        self.log.close()


def start(name: str, server: str, url: str, db: str, scratch: Path) -> Running:
    """Start target `name` on `server` against MongoDB `url`/`db`; wait until it answers."""
    port = free_port()
    env = {**os.environ, "MONGODB_URL": url, "MONGODB_DB": db, "HOST": "127.0.0.1"}
    env |= {"PORT": str(port), "LOG_LEVEL": "INFO"}
    overlay = server_overlay(server)
    module = ["bench.serve", name, "--server", server]
    if name == "service":
        # Production settings (auth, metrics, INFO logs), the rate limit out of the way.
        key_file = scratch / "dev-api-key"
        env |= {"MIGRATE_ON_START": "true", "RATE_LIMIT_PER_MINUTE": "1000000000"}
        env["DEV_API_KEY_FILE"] = str(key_file)
        if "server" in Settings.model_fields:
            env["SERVER"] = server
            module = ["service", "serve"]
        elif server == service_server():
            module = ["service", "serve"]
    elif name == "fastapi":
        overlay, module = FASTAPI_OVERLAY, ["bench.fastapi_beanie"]
    log = (scratch / f"{name}.log").open("w+b")
    process = subprocess.Popen(
        [*python(overlay), "-m", *module],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    command = "python -m " + " ".join(module)
    running = Running(name, process, f"http://127.0.0.1:{port}", server, log, command)
    try:
        if name == "service":
            running.wait_ready("/health/ready")
            running.headers = {"Authorization": f"Bearer {key_file.read_text().strip()}"}
        running.wait_ready("/api/v1/vms?page_size=1")
    except BaseException:
        running.stop()
        raise
    return running


def service_server() -> str:
    """The server `python -m service serve` uses (see bench.serve.service_server)."""
    from bench.serve import service_server as find

    return find()
