"""The generated functions and models against the real server process."""

from __future__ import annotations

import uuid

from vm_inventory_client import AuthenticatedClient
from vm_inventory_client.api.health import live, ready
from vm_inventory_client.api.vms import (
    create_vm,
    delete_vm,
    get_vm,
    list_vm_events,
    list_vms,
    replace_vm,
    update_vm,
)
from vm_inventory_client.models import (
    VM,
    EventAction,
    Health,
    Problem,
    VMCreate,
    VMCreateLabels,
    VMEventPage,
    VMPage,
    VMPatch,
    VMReplace,
    VMStatus,
)

from bench.server_process import ServerProcess


def create_body(name: str, **overrides: object) -> VMCreate:
    fields: dict[str, object] = {"name": name, "os": "ubuntu-24.04", "cpu_cores": 2,
                                 "memory_mib": 4096, "storage_gib": 40}  # fmt: skip
    return VMCreate.from_dict({**fields, **overrides})


async def test_every_operation_parses_into_models(server: ServerProcess) -> None:
    name = f"gen-{uuid.uuid4().hex[:8]}"
    async with AuthenticatedClient(base_url=server.base_url, token=server.token) as client:
        assert await live.asyncio(client=client) == Health(status="ok")
        assert await ready.asyncio(client=client) == Health(status="ok")

        body = create_body(name, ip_address="10.0.0.7")
        body.labels = VMCreateLabels.from_dict({"env": "dev"})
        created = await create_vm.asyncio_detailed(client=client, body=body)
        assert created.status_code == 201
        vm = created.parsed
        assert isinstance(vm, VM)
        assert created.headers["location"] == f"/api/v1/vms/{vm.id}"
        assert created.headers["etag"] == '"1"'
        assert vm.labels["env"] == "dev"

        got = await get_vm.asyncio(vm.id, client=client)
        assert isinstance(got, VM)
        assert got.ip_address == "10.0.0.7"

        patched = await update_vm.asyncio(vm.id, client=client, body=VMPatch(ip_address=None))
        assert isinstance(patched, VM)
        assert patched.ip_address is None  # null parses
        assert patched.revision == 2

        replace = VMReplace.from_dict({**create_body(name).to_dict(), "status": "running"})
        replaced = await replace_vm.asyncio(vm.id, client=client, body=replace)
        assert isinstance(replaced, VM)
        assert replaced.status == VMStatus.RUNNING

        other = await create_vm.asyncio(client=client, body=create_body(name + "-b"))
        assert isinstance(other, VM)
        first = await list_vms.asyncio(client=client, name_prefix=name, page_size=1)
        assert isinstance(first, VMPage)
        assert len(first.items) == 1
        assert isinstance(first.next_page_token, str)
        last = await list_vms.asyncio(client=client, name_prefix=name, page_size=2)
        assert isinstance(last, VMPage)
        assert last.next_page_token is None  # null parses
        assert [item.id for item in last.items] == [other.id, vm.id]

        refused = await delete_vm.asyncio_detailed(vm.id, client=client)
        assert refused.status_code == 409
        assert isinstance(refused.parsed, Problem)
        assert refused.parsed.type_.endswith("/rule-violation")
        deleted = await delete_vm.asyncio_detailed(vm.id, client=client, force=True)
        assert deleted.status_code == 204


async def test_problems_parse_into_the_problem_model(server: ServerProcess) -> None:
    name = f"gen-{uuid.uuid4().hex[:8]}"
    async with AuthenticatedClient(base_url=server.base_url, token=server.token) as client:
        invalid = await create_vm.asyncio_detailed(
            client=client, body=create_body(name, cpu_cores=0)
        )
        assert invalid.status_code == 400
        assert isinstance(invalid.parsed, Problem)
        assert isinstance(invalid.parsed.errors, list)
        assert [e.field for e in invalid.parsed.errors] == ["cpu_cores"]

        vm = await create_vm.asyncio(client=client, body=create_body(name))
        assert isinstance(vm, VM)
        taken = await create_vm.asyncio_detailed(client=client, body=create_body(name))
        assert taken.status_code == 409
        assert isinstance(taken.parsed, Problem)
        assert taken.parsed.type_.endswith("/name-conflict")

        moved = await update_vm.asyncio(
            vm.id, client=client, body=VMPatch(status=VMStatus.SUSPENDED)
        )
        assert isinstance(moved, Problem)
        assert moved.status == 409
        assert moved.current_status == "provisioning"
        assert moved.allowed_transitions == ["error", "running"]

        await delete_vm.asyncio_detailed(vm.id, client=client)
        missing = await get_vm.asyncio_detailed(vm.id, client=client)
        assert missing.status_code == 404
        assert isinstance(missing.parsed, Problem)
        assert missing.parsed.title == "Not found"


async def test_conditional_and_idempotent_writes_and_history(server: ServerProcess) -> None:
    name = f"gen-{uuid.uuid4().hex[:8]}"
    async with AuthenticatedClient(base_url=server.base_url, token=server.token) as client:
        key = uuid.uuid4().hex
        first = await create_vm.asyncio_detailed(
            client=client, body=create_body(name), idempotency_key=key
        )
        replay = await create_vm.asyncio_detailed(
            client=client, body=create_body(name), idempotency_key=key
        )
        assert (first.status_code, replay.status_code) == (201, 201)
        assert first.content == replay.content
        vm = first.parsed
        assert isinstance(vm, VM)

        unchanged = await get_vm.asyncio_detailed(vm.id, client=client, if_none_match='"1"')
        assert unchanged.status_code == 304
        assert unchanged.parsed is None

        patch = VMPatch(description="v2")
        done = await update_vm.asyncio_detailed(vm.id, client=client, body=patch, if_match='"1"')
        assert done.status_code == 200
        assert done.headers["etag"] == '"2"'
        stale = await update_vm.asyncio_detailed(vm.id, client=client, body=patch, if_match='"1"')
        assert stale.status_code == 412
        assert isinstance(stale.parsed, Problem)
        assert stale.parsed.current_revision == 2

        gone = await delete_vm.asyncio_detailed(vm.id, client=client, if_match='"2"')
        assert gone.status_code == 204
        history = await list_vm_events.asyncio(vm.id, client=client, page_size=10)
        assert isinstance(history, VMEventPage)
        assert [e.action for e in history.items] == [
            EventAction.DELETED,
            EventAction.UPDATED,
            EventAction.CREATED,
        ]
        change = history.items[1].changes["description"]
        assert (change.before, change.after) == ("", "v2")
        assert history.next_page_token is None
