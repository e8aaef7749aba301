"""Servers of their own for end-to-end tests that need settings the shared one lacks."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx
from pymongo import MongoClient

from bench.server_process import ServerProcess


@contextmanager
def own_server(mongo_url: str, db_prefix: str, **env: str) -> Iterator[ServerProcess]:
    """`python -m service serve` with `env` on a fresh database, dropped once it stops."""
    db_name = f"{db_prefix}_{uuid.uuid4().hex[:8]}"
    process = ServerProcess(mongo_url, db_name, **env).start()
    try:
        yield process
    finally:
        assert process.stop() == 0, process.output()
        with MongoClient(mongo_url) as client:
            client.drop_database(db_name)


def seed_vms(process: ServerProcess, count: int, vm: Callable[[str], dict[str, object]]) -> None:
    """Create `count` VMs `vm("big-0000")`.. through the batch route, 50 at a time."""
    with httpx.Client(base_url=process.base_url, headers=process.headers, timeout=60) as http:
        for first in range(0, count, 50):
            ops = [{"op": "create", "vm": vm(f"big-{i:04d}")} for i in range(first, first + 50)]
            assert http.post("/api/v1/vms/batch", json={"operations": ops}).status_code == 200


def admin_client(process: ServerProcess) -> httpx.AsyncClient:
    """An async HTTP client of `process` with its admin key."""
    return httpx.AsyncClient(base_url=process.base_url, headers=process.headers, timeout=30)
