"""The SDK's inv.vms.watch (reconnecting event iterator) and inv.vms.informer (live cache)."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import uuid

from vm_inventory_client import VMInventory, WatchEvent

from bench.server_process import ServerProcess
from tests import ROOT

SPEC = {"os": "ubuntu", "cpu_cores": 1, "memory_mib": 512, "storage_gib": 1}


async def _take(events: object, count: int) -> list[WatchEvent]:
    taken: list[WatchEvent] = []
    async for event in events:  # type: ignore[attr-defined]
        taken.append(event)
        if len(taken) == count:
            break
    return taken


async def test_watch_yields_typed_events_from_a_list_token(server: ServerProcess) -> None:
    tag = uuid.uuid4().hex[:8]
    async with VMInventory(server.base_url, token=server.token) as inv:
        page = await inv.vms.count(label=[f"t={tag}"])
        assert page == 0
        first = await inv.vms.create(name=f"s-{tag}", labels={"t": tag}, **SPEC)
        updated = await inv.vms.update(first.id, description="x")
        events = inv.vms.watch(label=[f"t={tag}"])
        task = asyncio.create_task(_take(events, 1))
        await asyncio.sleep(0.5)
        await inv.vms.update(first.id, description="y")
        got = await asyncio.wait_for(task, 20)
    assert [(e.type, e.revision) for e in got] == [("MODIFIED", updated.revision + 1)]
    assert got[0].vm is not None and got[0].vm.description == "y"


async def test_informer_keeps_a_cache_equal_to_the_server(server: ServerProcess) -> None:
    tag = uuid.uuid4().hex[:8]
    async with VMInventory(server.base_url, token=server.token) as inv:
        made = [await inv.vms.create(name=f"i-{tag}-{i}", labels={"t": tag}, **SPEC)
                for i in range(5)]  # fmt: skip
        informer = inv.vms.informer(label=[f"t={tag}"])
        await informer.start()
        assert set(informer.vms) == {vm.id for vm in made}

        async def follow() -> None:
            async for _ in informer:
                if len(informer.vms) == 5 and all(
                    vm.description == "done" for vm in informer.vms.values()
                ):
                    return

        following = asyncio.create_task(follow())
        await inv.vms.delete(made[0].id)
        await inv.vms.update(made[1].id, labels={"t": "elsewhere"})  # leaves the filter
        added = await inv.vms.create(name=f"i-{tag}-new", labels={"t": tag}, **SPEC)
        added2 = await inv.vms.create(name=f"i-{tag}-new2", labels={"t": tag}, **SPEC)
        for vm_id in [m.id for m in made[2:]] + [added.id, added2.id]:
            await inv.vms.update(vm_id, description="done")
        await asyncio.wait_for(following, 20)
        server_side = {vm.id: vm.revision async for vm in inv.vms.list(label=[f"t={tag}"])}
    assert {k: v.revision for k, v in informer.vms.items()} == server_side


def test_readme_informer_example_runs(server: ServerProcess) -> None:
    section = (ROOT / "README.md").read_text().split("\n## SDK\n", 1)[1].split("\n## ", 1)[0]
    blocks = [b for b in re.findall(r"```python\n(.*?)```", section, re.DOTALL) if "informer" in b]
    assert blocks, "README's SDK section has no informer example"
    env = {**os.environ, "VM_INVENTORY_URL": server.base_url, "VM_INVENTORY_TOKEN": server.token}
    result = subprocess.run(
        [sys.executable, "-c", blocks[0]],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "cached: 0\n" in result.stdout
    assert "ADDED demo-01 1 cached: 1\n" in result.stdout
    assert "DELETED demo-01 1 cached: 0\n" in result.stdout
