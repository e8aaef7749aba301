"""The VM is defined once: the stored shape, projection, recorded and writable fields derive from
the Structs, and what the service hands to storage is exactly a stored VM."""

from __future__ import annotations

from datetime import UTC, datetime

from service.domain.events import RECORDED_FIELDS, WriteContext
from service.domain.listing import search_keys
from service.domain.projects import UsageChange
from service.domain.schemas import (
    VM,
    WRITABLE_FIELDS,
    VMCreate,
    VMPatch,
    VMReplace,
    vm_from_fields,
)
from service.domain.vms import VMService
from service.storage.stored import (
    CREATION_FIELDS,
    DELETION_FIELDS,
    RECENT_EVENTS,
    SEARCH_KEYS,
    VM_FIELDS,
    VM_PROJECTION,
    StoredVM,
    stored_vm,
)
from tests.unit.fake_repository import FakeRepository


def test_every_write_struct_has_the_same_fields() -> None:
    assert VMCreate.__struct_fields__ == VMReplace.__struct_fields__ == WRITABLE_FIELDS
    assert VMPatch.__struct_fields__ == WRITABLE_FIELDS
    assert RECORDED_FIELDS == WRITABLE_FIELDS


def test_the_stored_vm_is_the_api_vm_plus_its_search_keys() -> None:
    assert set(VM.__struct_fields__) == {"id", *VM_FIELDS}
    stored = {*VM_FIELDS, *SEARCH_KEYS, *CREATION_FIELDS, RECENT_EVENTS}
    assert set(StoredVM.__struct_fields__) == stored
    assert set(VM_PROJECTION) == set(VM_FIELDS)
    every = {"name": "a", "labels": {"k": "v"}, "ip_address": "10.0.0.1"}
    assert set(search_keys(every)) == set(SEARCH_KEYS)


async def test_what_a_create_stores_is_a_complete_stored_vm() -> None:
    class Capture(FakeRepository):
        async def create(
            self,
            fields: dict[str, object],
            ctx: WriteContext | None = None,
            usage: UsageChange | None = None,
        ) -> VM:
            self.fields = fields
            return await super().create(fields, ctx, usage)

    repo = Capture()
    body = VMCreate(
        name="Web-01", os="debian-12", cpu_cores=2, memory_mib=1024, storage_gib=10,
        ip_address="2001:DB8:0::1", labels={"env": "prod"},
    )  # fmt: skip
    vm = await VMService(repo).create_vm(body)
    document = stored_vm({**repo.fields, **search_keys(repo.fields)})
    # A live VM lacks the deletion fields; a new one has no recent events.
    live_only = set(StoredVM.__struct_fields__) - {*DELETION_FIELDS, RECENT_EVENTS}
    assert set(document) == live_only
    assert document["ip_address"] == "2001:db8::1"
    assert (document["name_key"], document["status"]) == ("web-01", "provisioning")
    assert vm_from_fields({**document, "id": vm.id}) == vm


def test_a_stored_vm_keeps_its_times_as_datetimes() -> None:
    now = datetime.now(UTC)
    fields = {
        "name": "a", "project": "default", "status": "running", "os": "x", "cpu_cores": 1,
        "memory_mib": 128, "storage_gib": 1, "ip_address": None, "labels": {}, "description": "",
        "revision": 1, "created_at": now, "updated_at": now, "created_by": "a",
        "created_request_id": "r",
    }  # fmt: skip
    document = stored_vm({**fields, **search_keys(fields)})
    assert (document["created_at"], document["updated_at"]) == (now, now)
