"""WatchVMs against the real server: events per filter, resume, list-then-watch, errors."""

from __future__ import annotations

import asyncio
import contextlib
import random
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from bench.server_process import ServerProcess
from tests.e2e.servers import admin_client, own_server
from tests.e2e.sse import Event, Watch


@pytest.fixture(scope="module")
def watch_server(mongo_url: str) -> Iterator[ServerProcess]:
    """A server of its own, with a short heartbeat and a small client limit."""
    with own_server(
        mongo_url, "e2e_watch", WATCH_HEARTBEAT_SECONDS="0.5", WATCH_MAX_CLIENTS="40",
        RATE_LIMIT_PER_MINUTE="1000000",
    ) as process:  # fmt: skip
        yield process


@pytest.fixture
async def http(watch_server: ServerProcess) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of the server with its admin key."""
    async with admin_client(watch_server) as client:
        yield client


def _vm(name: str, **fields: Any) -> dict[str, Any]:
    return {"name": name, "os": "ubuntu", "cpu_cores": 2, "memory_mib": 1024, "storage_gib": 10,
            **fields}  # fmt: skip


async def _create(http: httpx.AsyncClient, name: str, **fields: Any) -> dict[str, Any]:
    answer = await http.post("/api/v1/vms", json=_vm(name, **fields))
    assert answer.status_code == 201, answer.text
    vm: dict[str, Any] = answer.json()
    return vm


async def _patch(http: httpx.AsyncClient, vm_id: str, **fields: Any) -> dict[str, Any]:
    answer = await http.patch(f"/api/v1/vms/{vm_id}", json=fields)
    assert answer.status_code == 200, answer.text
    vm: dict[str, Any] = answer.json()
    return vm


def _summary(events: list[Event]) -> list[tuple[str, str, int]]:
    return [(e.event, e.data["vm"]["name"], e.data["revision"]) for e in events]


async def test_watch_is_its_own_route_not_a_vm_id(http: httpx.AsyncClient) -> None:
    async with Watch(http) as stream:
        assert stream.response.status_code == 200
        assert stream.response.headers["content-type"].startswith("text/event-stream")
        first = await stream.next()
        assert first is not None and first.event == "BOOKMARK" and first.id


async def test_changes_in_and_out_of_the_filter(http: httpx.AsyncClient) -> None:
    tag = uuid.uuid4().hex[:8]
    async with Watch(http, {"label": f"t={tag}", "status": "running"}) as stream:
        vm = await _create(http, f"w-{tag}-a", status="running", labels={"t": tag})
        await _create(http, f"w-{tag}-other", status="running", labels={"t": "other"})
        await _patch(http, vm["id"], description="still running")
        await _patch(http, vm["id"], status="stopped")  # leaves the filter
        await _patch(http, vm["id"], description="stopped, unseen")
        await _patch(http, vm["id"], status="running")  # comes back
        deleted = await http.delete(f"/api/v1/vms/{vm['id']}", params={"force": "true"})
        assert deleted.status_code == 204
        events = await stream.changes(5)
    name = f"w-{tag}-a"
    assert _summary(events) == [
        ("ADDED", name, 1), ("MODIFIED", name, 2), ("DELETED", name, 2),
        ("ADDED", name, 5), ("DELETED", name, 5),
    ]  # fmt: skip
    assert events[2].data["vm"]["status"] == "running"  # the last state that matched
    assert events[1].data["vm"]["description"] == "still running"
    got = await http.get(f"/api/v1/vms/{vm['id']}")
    assert got.status_code == 404
    assert set(events[0].data["vm"]) == set(vm)  # the VM as GetVM returns it
    assert all(e.id for e in events)


async def test_resume_after_a_dropped_connection_has_no_gap_and_no_duplicate(
    http: httpx.AsyncClient,
) -> None:
    tag = uuid.uuid4().hex[:8]
    params = {"label": f"t={tag}"}
    vm = await _create(http, f"r-{tag}", labels={"t": tag})
    async with Watch(http, params) as stream:
        for i in range(3):
            await _patch(http, vm["id"], description=f"before {i}")
        seen = await stream.changes(2)  # the third one is not read: the client drops
    last_id = seen[-1].id
    assert last_id is not None
    for i in range(3):  # while disconnected
        await _patch(http, vm["id"], description=f"during {i}")
    async with Watch(http, params, {"Last-Event-ID": last_id}) as stream:
        await _patch(http, vm["id"], description="after")
        resumed = await stream.changes(5)
    revisions = [e.data["revision"] for e in seen + resumed]
    assert revisions == list(range(2, 9))
    assert resumed[-1].data["vm"]["description"] == "after"
    # ?resume_token= works the same, and Last-Event-ID wins over it
    async with Watch(http, {**params, "resume_token": seen[0].id}) as stream:
        again = await stream.changes(6)
    assert [e.data["revision"] for e in again] == list(range(3, 9))


async def test_list_then_watch_misses_nothing_under_concurrent_writers(
    http: httpx.AsyncClient,
) -> None:
    tag = uuid.uuid4().hex[:8]
    names = [f"l-{tag}-{i:02d}" for i in range(20)]
    for name in names[:10]:
        await _create(http, name, labels={"t": tag})
    writes = 0
    stop = asyncio.Event()
    final: dict[str, int] = {}

    async def writer(name: str) -> None:
        nonlocal writes
        vm = await _create(http, name, labels={"t": tag}) if name in names[10:] else None
        vm_id = vm["id"] if vm else None
        while not stop.is_set():
            if vm_id is None:
                listed = await http.get("/api/v1/vms", params={"name_prefix": name})
                vm_id = listed.json()["items"][0]["id"]
            answer = await http.patch(f"/api/v1/vms/{vm_id}", json={"description": str(writes)})
            assert answer.status_code == 200, answer.text
            final[name] = answer.json()["revision"]
            writes += 1
            await asyncio.sleep(random.uniform(0, 0.02))

    tasks = [asyncio.create_task(writer(name)) for name in names]
    await asyncio.sleep(0.3)
    # The informer's walk: list every page, remember the first page's watch_token, then watch.
    cache: dict[str, int] = {}
    token, page_token = None, None
    while True:
        params: dict[str, Any] = {"label": f"t={tag}", "page_size": 7}
        if page_token:
            params["page_token"] = page_token
        page = (await http.get("/api/v1/vms", params=params)).json()
        token = token or page["watch_token"]
        cache.update({vm["name"]: vm["revision"] for vm in page["items"]})
        page_token = page["next_page_token"]
        if page_token is None:
            break
    async with Watch(http, {"label": f"t={tag}", "resume_token": token}) as stream:
        await asyncio.sleep(0.5)
        stop.set()
        await asyncio.gather(*tasks)
        while any(cache.get(name) != revision for name, revision in final.items()):
            event = await stream.next()
            assert event is not None
            if event.event == "BOOKMARK":
                continue
            name, revision = event.data["vm"]["name"], event.data["revision"]
            if revision > cache.get(name, 0):  # duplicates at the seam are dropped by revision
                assert revision == cache.get(name, 0) + 1 or name not in cache, (name, revision)
                cache[name] = revision
    assert writes > 20
    assert cache == final


async def test_heartbeats_and_bookmarks_keep_a_quiet_stream_alive(http: httpx.AsyncClient) -> None:
    async with Watch(http, {"name_prefix": "nothing-ever-matches-"}) as stream:
        first = await stream.next()
        await _create(http, f"hb-{uuid.uuid4().hex[:8]}")  # moves history, not this filter
        bookmarks = [first]
        while len(bookmarks) < 4:
            event = await stream.next()
            assert event is not None and event.event == "BOOKMARK"
            bookmarks.append(event)
        assert stream.comments  # the heartbeat comment lines
    assert all(b is not None and b.data["resume_token"] == b.id for b in bookmarks)
    assert bookmarks[-1].id != bookmarks[0].id  # a fresh resume point past the other change


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "nope"}, "status"),
        ({"cpu_cores_min": "4", "cpu_cores_max": "2"}, "cpu_cores_min"),
        ({"ip_in": "10.0.0.1/24"}, "ip_in"),
        ({"label": "Bad Key"}, "label"),
        ({"sort": "name"}, "sort"),
        ({"page_size": "5"}, "page_size"),
        ({"resume_token": "not a token"}, "resume_token"),
        ({"created_after": "yesterday"}, "created_after"),
    ],
)
async def test_bad_filters_are_400_naming_the_field(
    http: httpx.AsyncClient, params: dict[str, str], field: str
) -> None:
    answer = await http.get("/api/v1/vms/watch", params=params)
    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert field in [e["field"] for e in answer.json()["errors"]]


async def test_bad_last_event_id_is_400(http: httpx.AsyncClient) -> None:
    answer = await http.get("/api/v1/vms/watch", headers={"Last-Event-ID": "zz"})
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["field"] == "Last-Event-ID"


async def test_a_token_of_no_event_in_history_is_400(http: httpx.AsyncClient) -> None:
    async with Watch(http) as stream:
        first = await stream.next()
    assert first is not None and first.id is not None
    vm = await _create(http, f"g-{uuid.uuid4().hex[:8]}")
    async with Watch(http, {"name_prefix": vm["name"], "resume_token": first.id}) as stream:
        event = (await stream.changes(1))[0]
    assert event.id is not None and event.event == "ADDED"
    # Well-formed hex, but no resume token MongoDB ever wrote.
    forged = event.id[:-8] + ("0" * 8 if not event.id.endswith("0" * 8) else "1" * 8)
    answer = await http.get("/api/v1/vms/watch", params={"resume_token": forged})
    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["errors"][0]["field"] == "resume_token"


async def test_watch_needs_a_key(watch_server: ServerProcess) -> None:
    async with httpx.AsyncClient(base_url=watch_server.base_url) as anonymous:
        answer = await anonymous.get("/api/v1/vms/watch")
    assert answer.status_code == 401
    assert answer.headers["content-type"] == "application/problem+json"


async def test_past_watch_max_clients_is_429_with_retry_after(http: httpx.AsyncClient) -> None:
    async with contextlib.AsyncExitStack() as stack:
        streams = [await stack.enter_async_context(Watch(http)) for _ in range(40)]
        assert {s.response.status_code for s in streams} == {200}
        answer = await http.get("/api/v1/vms/watch")
        assert answer.status_code == 429
        assert answer.headers["content-type"] == "application/problem+json"
        assert int(answer.headers["retry-after"]) > 0
    async with Watch(http) as stream:  # the slots are free again once the clients left
        assert stream.response.status_code == 200


async def test_metrics_count_watchers_and_events(http: httpx.AsyncClient) -> None:
    async with Watch(http) as stream:
        await stream.next()
        text = (await http.get("/metrics")).text
    assert "vm_inventory_watchers " in text
    assert 'vm_inventory_watch_events_sent_total{type="BOOKMARK"}' in text
    assert "vm_inventory_watch_slow_consumers_dropped_total" in text


async def test_head_answers_like_get_without_a_stream(http: httpx.AsyncClient) -> None:
    head = await http.head("/api/v1/vms/watch", params={"status": "running"})
    async with Watch(http, {"status": "running"}) as stream:
        get = stream.response
        assert (head.status_code, get.status_code) == (200, 200)
        kept = ("content-type", "cache-control")
        assert {k: head.headers[k] for k in kept} == {k: get.headers[k] for k in kept}
    assert head.content == b""
    bad = await http.head("/api/v1/vms/watch", params={"status": "nope"})
    assert bad.status_code == 400
