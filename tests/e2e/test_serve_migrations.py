"""`serve` refuses to start with pending migrations, unless MIGRATE_ON_START applies them."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from pymongo import MongoClient

from bench.server_process import ServerProcess
from service.config import Settings
from service.storage.migrations.cli import check_on_start
from service.storage.migrations.runner import HISTORY
from service.storage.migrations.scripts import discover


def test_serve_with_pending_migrations_refuses_then_migrates_on_start(
    mongo_url: str, db_name: str
) -> None:
    newest = discover()[0][-1]
    refused = ServerProcess(mongo_url, db_name, MIGRATE_ON_START="false")
    with pytest.raises(RuntimeError) as caught:
        refused.start()
    assert refused.stop() == 1
    message = str(caught.value)
    assert "python -m service migrate up" in message
    assert newest.name in message
    client: MongoClient[dict[str, Any]] = MongoClient(mongo_url)
    try:
        assert client[db_name].list_collection_names() == []

        server = ServerProcess(mongo_url, db_name, MIGRATE_ON_START="true").start()
        try:
            assert httpx.get(server.base_url + "/health/ready").status_code == 200
        finally:
            assert server.stop() == 0
        assert f"applying {newest.name}" in server.output()
        history = list(client[db_name][HISTORY].find().sort("_id"))
        assert history[-1]["_id"] == newest.version
        assert "project_name_unique_live" in client[db_name].vms.index_information()

        # Up to date: serving no longer needs MIGRATE_ON_START.
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            mongodb_url=mongo_url,
            mongodb_db=db_name,
            migrate_on_start=False,
        )
        assert asyncio.run(check_on_start(settings, mongo_url)) is None
    finally:
        client.close()
