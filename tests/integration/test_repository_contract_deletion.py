"""The repository contract of soft delete, restore and purge, on the in-memory fake and on
VMRepository over real MongoDB alike (the `repo` fixture of test_repository_contract)."""

from __future__ import annotations

import pytest

from service.domain.errors import NameConflict, NotFound
from service.domain.listing import ListParams, ListQuery, PageTokens, compile_query
from service.domain.repository import StaleRevision
from service.domain.schemas import rfc3339
from tests.integration.test_repository_contract import Store, create, repo
from tests.unit.fake_repository import event

__all__ = ["repo"]  # the fixture, run once per implementation


def listing(show_deleted: bool) -> ListQuery:
    return compile_query(ListParams(show_deleted=show_deleted), PageTokens(b"k"))


async def test_a_soft_delete_keeps_the_vm_for_include_deleted_only(repo: Store) -> None:
    vm = await create(repo)
    gone = event(2, "deleted")
    await repo.delete(vm.id, 1, gone)
    with pytest.raises(NotFound):
        await repo.get_by_id(vm.id)
    kept = await repo.get_by_id(vm.id, include_deleted=True)
    assert kept.revision == 2
    assert (kept.deleted_at, kept.purge_at) == (
        rfc3339(gone["timestamp"]),
        rfc3339(gone["purge_at"]),
    )
    assert [v.id for v in await repo.list(listing(False))] == []
    assert [v.id for v in await repo.list(listing(True))] == [vm.id]
    assert await repo.count(listing(False)) == 0
    assert await repo.count(listing(True)) == 1
    history = await repo.list_events(vm.id, 10)
    assert [(e.revision, e.action.value) for e in history] == [(2, "deleted"), (1, "created")]


async def test_a_deleted_vm_frees_its_name_and_restore_names_the_holder(repo: Store) -> None:
    vm = await create(repo, "app-01")
    await repo.delete(vm.id, 1, event(2, "deleted"))
    holder = await create(repo, "APP-01")
    with pytest.raises(NameConflict) as taken:
        await repo.restore(vm.id, 2, event(3, "restored"))
    assert taken.value.extra["holder_id"] == holder.id
    assert (await repo.get_by_id(vm.id, include_deleted=True)).revision == 2  # unchanged
    await repo.update(holder.id, 1, {"name": "app-02"}, event(2))
    back = await repo.restore(vm.id, 2, event(3, "restored"))
    assert (back.revision, back.name) == (3, "app-01")
    assert await repo.get_by_id(vm.id) == back


async def test_restore_and_purge_are_compare_and_sets(repo: Store) -> None:
    vm = await create(repo)
    with pytest.raises(StaleRevision):  # live: nothing to restore at any revision
        await repo.restore(vm.id, 1, event(2, "restored"))
    await repo.delete(vm.id, 1, event(2, "deleted"))
    for stale in (1, 3):
        with pytest.raises(StaleRevision) as err:
            await repo.restore(vm.id, stale, event(stale + 1, "restored"))
        assert err.value.current_revision == 2
        with pytest.raises(StaleRevision):
            await repo.purge(vm.id, stale, event(stale + 1, "purged"))
    await repo.purge(vm.id, 2, event(3, "purged"))
    with pytest.raises(NotFound):
        await repo.get_by_id(vm.id, include_deleted=True)
    for write in (
        repo.restore(vm.id, 3, event(4, "restored")),
        repo.purge(vm.id, 3, event(4, "purged")),
        repo.delete(vm.id, 3, event(4, "deleted")),
    ):
        with pytest.raises(NotFound):
            await write
    history = await repo.list_events(vm.id, 10)
    assert [e.action.value for e in history] == ["purged", "deleted", "created"]


async def test_a_purge_from_revision_one_records_the_created_event_first(repo: Store) -> None:
    vm = await create(repo)
    await repo.purge(vm.id, 1, event(2, "purged"))
    history = await repo.list_events(vm.id, 10)
    assert [(e.revision, e.action.value) for e in history] == [(2, "purged"), (1, "created")]
