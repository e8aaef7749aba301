"""WatchVMs and soft delete against the real server: a deleted VM matches no filter, so a delete
is DELETED to its watchers and a restore ADDED; purging a live VM is DELETED, purging a deleted
one sends nothing."""

from __future__ import annotations

import uuid

import httpx

from tests.e2e.sse import Watch
from tests.e2e.test_watch import _create, _summary, http, watch_server

__all__ = ["http", "watch_server"]  # the fixtures: a server of this module's own


async def test_delete_is_deleted_restore_added_and_only_a_live_purge_is_seen(
    http: httpx.AsyncClient,
) -> None:
    tag = uuid.uuid4().hex[:8]
    async with Watch(http, {"label": f"t={tag}"}) as stream:
        a = await _create(http, f"sd-{tag}-a", labels={"t": tag})
        assert (await http.delete(f"/api/v1/vms/{a['id']}")).status_code == 204
        restored = await http.post(f"/api/v1/vms/{a['id']}/restore")
        assert restored.status_code == 200, restored.text
        purge = {"purge": "true", "force": "true"}
        assert (await http.delete(f"/api/v1/vms/{a['id']}", params=purge)).status_code == 204
        b = await _create(http, f"sd-{tag}-b", labels={"t": tag})
        assert (await http.delete(f"/api/v1/vms/{b['id']}")).status_code == 204
        assert (await http.delete(f"/api/v1/vms/{b['id']}", params=purge)).status_code == 204
        await _create(http, f"sd-{tag}-c", labels={"t": tag})  # a marker after the purge
        events = await stream.changes(7)
    a_name, b_name, c_name = (f"sd-{tag}-{x}" for x in "abc")
    assert _summary(events) == [
        ("ADDED", a_name, 1), ("DELETED", a_name, 1), ("ADDED", a_name, 3),
        ("DELETED", a_name, 3), ("ADDED", b_name, 1), ("DELETED", b_name, 1),
        ("ADDED", c_name, 1),
    ]  # fmt: skip
    assert events[2].data["vm"] == restored.json()  # the restored VM as RestoreVM answered it
    assert all("deleted_at" not in e.data["vm"] for e in events)  # a watcher sees live states
