"""Every conditional write (ReplaceVM, UpdateVM, DeleteVM, RestoreVM, UpsertVM) treats If-Match and
Idempotency-Key alike: a missing If-Match (428) is refused before the key is used, a stale one
(412) is stored under the key and replayed, a success is replayed with its ETag."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.helpers import BASE, Client, assert_problem, vm_body

pytestmark = pytest.mark.usefixtures("clean")
ROUTES = ["ReplaceVM", "UpdateVM", "DeleteVM", "PurgeVM", "RestoreVM", "UpsertVM"]


async def prepare(client: Client, route: str) -> tuple[dict[str, Any], str, int, int]:
    """A VM ready for `route`: the request's arguments, the VM's URL and revision, the status the
    request answers with a matching If-Match."""
    created = await client.post(BASE, json=vm_body(name=f"cw-{route.lower()}"))
    assert created.status_code == 201, created.text
    vm = created.json()
    url = f"{BASE}/{vm['id']}"
    if route == "RestoreVM":
        deleted = await client.delete(url, headers={"If-Match": '"1"'})
        assert deleted.status_code == 204, deleted.text
        return {"method": "POST", "url": f"{url}/restore"}, url, 2, 200
    args, status = {
        "ReplaceVM": ({"method": "PUT", "url": url, "json": vm_body(name=vm["name"], os="x")}, 200),
        "UpdateVM": ({"method": "PATCH", "url": url, "json": {"os": "x"}}, 200),
        "DeleteVM": ({"method": "DELETE", "url": url}, 204),
        "PurgeVM": ({"method": "DELETE", "url": url, "params": {"purge": "true"}}, 204),
        "UpsertVM": ({"method": "PUT", "url": f"{BASE}/by-name/{vm['name']}",
                      "json": vm_body(name=vm["name"], os="x")}, 200),
    }[route]  # fmt: skip
    return args, url, 1, status


async def revision(client: Client, url: str) -> int:
    """The VM's revision, deleted or not."""
    response = await client.get(url, params={"show_deleted": "true"})
    assert response.status_code == 200, response.text
    return int(response.json()["revision"])


@pytest.mark.parametrize("route", ROUTES)
async def test_a_missing_if_match_is_428_before_the_idempotency_key_is_used(
    strict_client: Client, route: str
) -> None:
    args, url, current, status = await prepare(strict_client, route)
    key = {"Idempotency-Key": f"cw-428-{route}"}
    problem = assert_problem(await strict_client.request(**args, headers=key), 428)
    assert "If-Match" in problem["detail"]
    assert await revision(strict_client, url) == current

    # The 428 was not stored: the same key serves the request that sends If-Match.
    headers = {**key, "If-Match": f'"{current}"'}
    first = await strict_client.request(**args, headers=headers)
    assert first.status_code == status, first.text
    assert "idempotent-replayed" not in first.headers
    again = await strict_client.request(**args, headers=headers)
    assert again.status_code == status, again.text
    assert again.headers["idempotent-replayed"] == "true"
    assert again.content == first.content
    assert again.headers.get("etag") == first.headers.get("etag")
    if status == 200:
        assert first.headers["etag"] == f'"{first.json()["revision"]}"'


@pytest.mark.parametrize("route", ROUTES)
async def test_a_stale_if_match_is_412_and_replayed_under_its_key(
    client: Client, route: str
) -> None:
    args, url, current, _ = await prepare(client, route)
    headers = {"Idempotency-Key": f"cw-412-{route}", "If-Match": f'"{current + 1}"'}
    first = await client.request(**args, headers=headers)
    problem = assert_problem(first, 412)
    assert await revision(client, url) == current
    assert "idempotent-replayed" not in first.headers
    again = await client.request(**args, headers=headers)
    assert_problem(again, 412)
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == problem
