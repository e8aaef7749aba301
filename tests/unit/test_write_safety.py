"""If-Match / If-None-Match parsing and the event each service write hands to the repository."""

from __future__ import annotations

import pytest

from service.domain.errors import PreconditionFailed, PreconditionRequired, ValidationFailed
from service.domain.events import WriteContext
from service.domain.schemas import VMCreate, VMPatch, VMStatus
from service.domain.vms import VMService
from service.http.preconditions import ANY, if_match, not_modified, parse_etags
from tests.unit.fake_repository import FakeRepository

CTX = WriteContext(actor="ops-bot", request_id="req-1")


@pytest.mark.parametrize(
    ("header", "strong", "weak"),
    [
        ('"3"', {3}, set()),
        ('"3", W/"4" ,"5"', {3, 5}, {4}),
        ('"abc", "007", "0"', set(), set()),
        ('""', set(), set()),
    ],
)
def test_parse_etags(header: str, strong: set[int], weak: set[int]) -> None:
    assert parse_etags(header, "If-Match") == (frozenset(strong), frozenset(weak))


def test_star_and_bad_syntax() -> None:
    assert parse_etags(" * ", "If-Match") == ANY
    for bad in ("3", "", '"3" "4"', "W/3", '*, "3"'):
        with pytest.raises(ValidationFailed):
            parse_etags(bad, "If-Match")


def test_if_match_requirement_and_if_none_match() -> None:
    assert if_match(None, required=False) is None
    assert if_match("*", required=True) is None
    assert if_match('"2", W/"3"', required=True) == frozenset({2})
    with pytest.raises(PreconditionRequired):
        if_match(None, required=True)
    assert not_modified('W/"2"', 2)
    assert not not_modified('"1"', 2)
    assert not not_modified(None, 2)


async def test_each_write_hands_its_event_to_the_repository() -> None:
    repo = FakeRepository()
    svc = VMService(repo)
    body = VMCreate(name="web-01", os="debian-12", cpu_cores=2, memory_mib=1024, storage_gib=10)
    vm = await svc.create_vm(body, CTX)
    await svc.update_vm(vm.id, VMPatch(status=VMStatus.RUNNING), if_match=[1], ctx=CTX)
    with pytest.raises(PreconditionFailed):
        await svc.update_vm(vm.id, VMPatch(os="x"), if_match=[1], ctx=CTX)
    await svc.update_vm(vm.id, VMPatch(labels={"a": "b"}), ctx=CTX)
    await svc.delete_vm(vm.id, force=True, ctx=CTX)
    actions = [(e["action"], e["revision"]) for e in repo.events]
    assert actions == [("created", 1), ("status_changed", 2), ("updated", 3), ("deleted", 4)]
    assert repo.events[1]["changes"] == {"status": {"before": "provisioning", "after": "running"}}
    assert repo.events[2]["changes"] == {"labels": {"before": {}, "after": {"a": "b"}}}
    assert repo.events[3]["changes"]["labels"] == {"before": {"a": "b"}, "after": None}
    assert {(e["actor"], e["request_id"]) for e in repo.events} == {("ops-bot", "req-1")}
