"""Service rules: transitions, resize and shrink, force delete, input normalisation."""

from __future__ import annotations

import itertools

import pytest

from service.domain.errors import (
    InvalidTransition,
    NameConflict,
    NotFound,
    RuleViolation,
    ValidationFailed,
)
from service.domain.rules import TRANSITIONS
from service.domain.schemas import VM, InitialStatus, VMCreate, VMPatch, VMReplace, VMStatus
from service.domain.vms import VMService
from tests.unit.fake_repository import FakeRepository, event

ALLOWED = {
    ("provisioning", "running"), ("provisioning", "error"),
    ("running", "stopped"), ("running", "suspended"), ("running", "error"),
    ("suspended", "running"), ("suspended", "stopped"), ("suspended", "error"),
    ("stopped", "running"), ("stopped", "error"),
    ("error", "stopped"), ("error", "running"),
}  # fmt: skip
PAIRS = [(a, b) for a, b in itertools.product(VMStatus, VMStatus) if a != b]


@pytest.fixture
def repo() -> FakeRepository:
    return FakeRepository()


@pytest.fixture
def svc(repo: FakeRepository) -> VMService:
    return VMService(repo)


def create_body(**overrides: object) -> VMCreate:
    fields: dict[str, object] = {
        "name": "web-01", "os": "ubuntu-24.04", "cpu_cores": 2,
        "memory_mib": 4096, "storage_gib": 40,
    }  # fmt: skip
    fields.update(overrides)
    return VMCreate(**fields)  # type: ignore[arg-type]


async def vm_in(svc: VMService, repo: FakeRepository, status: VMStatus) -> VM:
    """A VM forced into `status` (bypassing the rules, as a fixture)."""
    vm = await svc.create_vm(create_body())
    return await repo.update(vm.id, vm.revision, {"status": status.value}, event(vm.revision + 1))


def test_transition_table_is_the_documented_one() -> None:
    table = {(a.value, b.value) for a, targets in TRANSITIONS.items() for b in targets}
    assert table == ALLOWED


@pytest.mark.parametrize(("source", "target"), PAIRS, ids=lambda s: s.value)
async def test_every_status_change(
    svc: VMService, repo: FakeRepository, source: VMStatus, target: VMStatus
) -> None:
    vm = await vm_in(svc, repo, source)
    if (source.value, target.value) in ALLOWED:
        updated = await svc.update_vm(vm.id, VMPatch(status=target))
        assert updated.status is target
        assert updated.revision == vm.revision + 1
    else:
        with pytest.raises(InvalidTransition) as err:
            await svc.update_vm(vm.id, VMPatch(status=target))
        assert err.value.extra["current_status"] == source.value
        assert err.value.extra["allowed_transitions"] == sorted(
            t.value for t in TRANSITIONS[source]
        )
        assert repo.vms[vm.id].status is source


async def test_replace_follows_transitions_and_keeps_omitted_status(
    svc: VMService, repo: FakeRepository
) -> None:
    vm = await vm_in(svc, repo, VMStatus.STOPPED)
    body = dict(name="web-01", os="debian-12", cpu_cores=2, memory_mib=4096, storage_gib=40)
    replaced = await svc.replace_vm(vm.id, VMReplace(**body))  # type: ignore[arg-type]
    assert replaced.status is VMStatus.STOPPED
    assert replaced.os == "debian-12"
    with pytest.raises(InvalidTransition):
        await svc.replace_vm(vm.id, VMReplace(**body, status=VMStatus.SUSPENDED))  # type: ignore[arg-type]


@pytest.mark.parametrize("status", list(VMStatus), ids=lambda s: s.value)
@pytest.mark.parametrize("field", ["cpu_cores", "memory_mib"])
async def test_resize_only_when_stopped_or_provisioning(
    svc: VMService, repo: FakeRepository, status: VMStatus, field: str
) -> None:
    vm = await vm_in(svc, repo, status)
    patch = VMPatch(**{field: getattr(vm, field) * 2})
    if status in (VMStatus.STOPPED, VMStatus.PROVISIONING):
        assert getattr(await svc.update_vm(vm.id, patch), field) == getattr(vm, field) * 2
    else:
        with pytest.raises(RuleViolation):
            await svc.update_vm(vm.id, patch)
        assert getattr(repo.vms[vm.id], field) == getattr(vm, field)


@pytest.mark.parametrize("status", list(VMStatus), ids=lambda s: s.value)
async def test_storage_grows_in_any_status_but_never_shrinks(
    svc: VMService, repo: FakeRepository, status: VMStatus
) -> None:
    vm = await vm_in(svc, repo, status)
    assert (await svc.update_vm(vm.id, VMPatch(storage_gib=80))).storage_gib == 80
    with pytest.raises(RuleViolation, match="shrink"):
        await svc.update_vm(vm.id, VMPatch(storage_gib=79))
    assert repo.vms[vm.id].storage_gib == 80


@pytest.mark.parametrize("status", list(VMStatus), ids=lambda s: s.value)
async def test_delete_needs_force_while_running_or_suspended(
    svc: VMService, repo: FakeRepository, status: VMStatus
) -> None:
    vm = await vm_in(svc, repo, status)
    if status in (VMStatus.RUNNING, VMStatus.SUSPENDED):
        with pytest.raises(RuleViolation, match="force"):
            await svc.delete_vm(vm.id)
        assert await svc.get_vm(vm.id) == vm
        await svc.delete_vm(vm.id, force=True)
    else:
        await svc.delete_vm(vm.id)
    with pytest.raises(NotFound):
        await svc.get_vm(vm.id)


async def test_create_normalises_ip_and_starts_at_revision_1(svc: VMService) -> None:
    vm = await svc.create_vm(create_body(ip_address="2001:DB8:0::1", status=InitialStatus.RUNNING))
    assert vm.ip_address == "2001:db8::1"
    assert vm.revision == 1
    assert vm.status is VMStatus.RUNNING
    assert vm.created_at == vm.updated_at
    assert vm.created_at.endswith("Z")


@pytest.mark.parametrize("ip", ["10.0.0.256", "not-an-ip", "01.2.3.4", "fe80::1%eth0", "1.2.3"])
async def test_invalid_ip_names_the_field(svc: VMService, ip: str) -> None:
    with pytest.raises(ValidationFailed) as err:
        await svc.create_vm(create_body(ip_address=ip))
    assert err.value.extra["errors"][0]["field"] == "ip_address"


async def test_name_with_trailing_newline_is_rejected(svc: VMService) -> None:
    with pytest.raises(ValidationFailed) as err:
        await svc.create_vm(create_body(name="web-01\n"))
    assert err.value.extra["errors"][0]["field"] == "name"


async def test_name_conflict_ignores_case(svc: VMService) -> None:
    await svc.create_vm(create_body(name="web-01"))
    with pytest.raises(NameConflict):
        await svc.create_vm(create_body(name="WEB-01"))


async def test_patch_merges_labels_and_null_removes(svc: VMService) -> None:
    vm = await svc.create_vm(
        create_body(labels={"env": "prod", "tier": "web"}, ip_address="10.0.0.1")
    )
    patched = await svc.update_vm(
        vm.id, VMPatch(labels={"tier": None, "team": "infra"}, ip_address=None)
    )
    assert patched.labels == {"env": "prod", "team": "infra"}
    assert patched.ip_address is None


async def test_patch_cannot_exceed_64_labels(svc: VMService, repo: FakeRepository) -> None:
    vm = await svc.create_vm(create_body(labels={f"k{i}": "v" for i in range(64)}))
    with pytest.raises(ValidationFailed) as err:
        await svc.update_vm(vm.id, VMPatch(labels={"one-more": "v"}))
    assert err.value.extra["errors"][0]["field"] == "labels"
    assert len(repo.vms[vm.id].labels) == 64


async def test_noop_patch_does_not_bump_revision(svc: VMService, repo: FakeRepository) -> None:
    vm = await svc.create_vm(create_body())
    same = await svc.update_vm(vm.id, VMPatch(os=vm.os))
    assert same.revision == 1
    assert repo.writes == 1
