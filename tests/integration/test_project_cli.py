"""`apikey create --project` and `project recount [--repair]`, run as the command line."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from service.config import Settings
from service.domain.projects import ProjectCreate, Quota
from service.domain.rules import utcnow
from service.storage.migrations.runner import upgrade
from service.storage.projects import ProjectRepository
from tests import ROOT

Db = AsyncDatabase[dict[str, Any]]


async def cli(settings: Settings, db: Db, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "MONGODB_URL": str(settings.mongodb_url),
           "MONGODB_DB": db.name}  # fmt: skip
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "service", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


@pytest.fixture
async def repo(fresh_db: Db) -> ProjectRepository:
    await upgrade(fresh_db)
    repo = ProjectRepository(fresh_db)
    await repo.create(ProjectCreate(name="team-a", quota=Quota(vms=5)), utcnow())
    return repo


async def test_apikey_for_projects(
    settings: Settings, fresh_db: Db, repo: ProjectRepository
) -> None:
    missing = await cli(
        settings, fresh_db, "apikey", "create", "--name", "k1", "--scope", "write",
        "--project", "team-a", "--project", "team-x",
    )  # fmt: skip
    assert missing.returncode == 1
    assert "team-x" in missing.stderr and "team-a" not in missing.stderr
    assert await fresh_db.api_keys.count_documents({"name": "k1"}) == 0

    made = await cli(
        settings, fresh_db, "apikey", "create", "--name", "k1", "--scope", "write",
        "--project", "team-a", "--project", "default",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert made.stdout.strip().splitlines()[-1].startswith("vmi_")
    every = await cli(settings, fresh_db, "apikey", "create", "--name", "k2", "--scope", "read")
    assert every.returncode == 0, every.stderr
    listed = await cli(settings, fresh_db, "apikey", "list")
    assert "k1\twrite\tteam-a,default\t" in listed.stdout
    assert "k2\tread\tevery project\t" in listed.stdout
    stored = await fresh_db.api_keys.find_one({"name": "k1"})
    assert stored is not None and stored["projects"] == ["team-a", "default"]
    unrestricted = await fresh_db.api_keys.find_one({"name": "k2"})
    assert unrestricted is not None and "projects" not in unrestricted


async def test_recount_finds_and_repairs_drift(
    settings: Settings, fresh_db: Db, repo: ProjectRepository
) -> None:
    clean = await cli(settings, fresh_db, "project", "recount")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "team-a\tok\tvms=0" in clean.stdout and "default\tok" in clean.stdout

    # Drift made by hand: a live VM the ledger never counted, a shard holding a phantom.
    await fresh_db.vms.insert_one(
        {"project": "team-a", "name": "v", "cpu_cores": 2, "memory_mib": 512, "storage_gib": 3},
        bypass_document_validation=True,
    )
    await fresh_db.project_usage.update_one({"_id": "team-a/7"}, {"$set": {"used.cpu_cores": 9}})
    found = await cli(settings, fresh_db, "project", "recount")
    assert found.returncode == 1
    assert "team-a\tdrift\tstored vms=0 cpu_cores=9" in found.stdout
    assert "counted vms=1 cpu_cores=2 memory_mib=512 storage_gib=3" in found.stdout
    assert (await repo.get("team-a")).usage.cpu_cores == 9  # only shown

    repaired = await cli(settings, fresh_db, "project", "recount", "--repair")
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert "team-a\trepaired" in repaired.stdout
    project = await repo.get("team-a")
    assert (project.usage.vms, project.usage.cpu_cores, project.quota.vms) == (1, 2, 5)
    again = await cli(settings, fresh_db, "project", "recount")
    assert again.returncode == 0 and "team-a\tok\tvms=1 cpu_cores=2" in again.stdout
