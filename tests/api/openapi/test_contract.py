"""The API does what its OpenAPI document says: headers, query parameters, 400s, HEAD, bodies."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.helpers import BASE, Client, assert_problem, vm_body

VALIDATION = "https://vm-inventory.dev/problems/validation"
MISSING = "0123456789abcdef01234567"


@pytest.fixture
async def vm(client: Client, clean: Any) -> dict[str, Any]:
    """A VM to read and write."""
    response = await client.post(BASE, json=vm_body(name="contract"))
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def spec(client: Client) -> dict[str, Any]:
    """The OpenAPI document the app serves."""
    document: dict[str, Any] = (await client.get("/schema/openapi.json")).json()
    return document


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(method, path template, operation) of every documented operation."""
    return [
        (method.upper(), path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in ("get", "put", "post", "patch", "delete")
    ]


def concrete(path: str, vm_id: str) -> str:
    """The template with the VM's id filled in."""
    return path.replace("{vm_id}", vm_id)


def request_args(method: str, operation: dict[str, Any]) -> dict[str, Any]:
    """A valid body for the operations that take one."""
    if method == "POST":
        return {"json": vm_body(name="other")}
    if method == "PUT":
        return {"json": vm_body(name="contract")}
    if method == "PATCH":
        return {"json": {"description": "x"}}
    return {}


async def test_every_operation_refuses_query_parameters_it_does_not_declare(
    client: Client, vm: dict[str, Any]
) -> None:
    document = await spec(client)
    checked = set()
    for method, path, operation in operations(document):
        declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
        for unknown in ("unknown", "pagesize", "vm_id", "if_match", "data"):
            assert unknown not in declared
            response = await client.request(
                method,
                concrete(path, vm["id"]),
                params={unknown: "1"},
                **request_args(method, operation),
            )
            problem = assert_problem(response, 400, unknown)
            assert problem["type"] == VALIDATION
            assert "unknown query parameter" in problem["detail"]
        checked.add(operation["operationId"])
    assert {"CreateVM", "ListVMs", "GetVM", "ReplaceVM", "UpdateVM", "DeleteVM"} <= checked
    assert {"ListVMEvents", "Live", "Ready"} <= checked
    assert (await client.get(f"{BASE}/{vm['id']}")).status_code == 200  # nothing was written


async def test_declared_query_parameters_still_work(client: Client, vm: dict[str, Any]) -> None:
    assert (await client.get(f"{BASE}/{vm['id']}/events", params={"page_size": 1})).is_success
    assert (await client.get(BASE, params={"status": ["running", "stopped"]})).is_success
    response = await client.delete(f"{BASE}/{vm['id']}", params={"force": "true"})
    assert response.status_code == 204, response.text


NOT_INTEGERS = [
    "010",
    "1.0",
    "1e2",
    "1E2",
    "0x10",
    "1_0",
    "+1",
    " 1",
    "1 ",
    "",
    "\u0661",
    "½",
    "one",
]


@pytest.mark.parametrize("value", NOT_INTEGERS)
async def test_integer_query_parameters_take_decimal_digits_only(
    client: Client, vm: dict[str, Any], value: str
) -> None:
    document = await spec(client)
    integers = [
        (method, path, p["name"])
        for method, path, operation in operations(document)
        for p in operation.get("parameters", [])
        if p["in"] == "query"
        and "integer"
        in {p["schema"].get("type"), *(s.get("type") for s in p["schema"].get("oneOf", []))}
    ]
    assert ("GET", "/api/v1/vms", "page_size") in integers
    assert ("GET", "/api/v1/vms", "cpu_cores_min") in integers
    assert ("GET", "/api/v1/vms/{vm_id}/events", "page_size") in integers
    for method, path, name in integers:
        response = await client.request(method, concrete(path, vm["id"]), params={name: value})
        problem = assert_problem(response, 400, name)
        assert problem["type"] == VALIDATION


async def test_plain_integers_are_accepted(client: Client, vm: dict[str, Any]) -> None:
    for name in ("page_size", "cpu_cores_min", "memory_mib_max", "storage_gib_min"):
        response = await client.get(BASE, params={name: "10"})
        assert response.status_code == 200, response.text
    assert (await client.get(BASE, params={"cpu_cores_min": "-1"})).status_code == 400  # range


BAD_KEYS = ["a b", 'a"b', '"ab', 'ab"', '""', '"a b"', " ", "x" * 256]


@pytest.mark.parametrize("key", BAD_KEYS)
async def test_idempotency_keys_outside_the_documented_pattern_are_400(
    client: Client, vm: dict[str, Any], key: str
) -> None:
    path = f"{BASE}/{vm['id']}"
    writes = [
        ("POST", BASE, {"json": vm_body(name="other")}),
        ("PUT", path, {"json": vm_body(name="contract")}),
        ("PATCH", path, {"json": {"description": "x"}}),
        ("DELETE", path, {}),
    ]
    for method, url, args in writes:
        response = await client.request(method, url, headers={"Idempotency-Key": key}, **args)
        problem = assert_problem(response, 400, "Idempotency-Key")
        assert problem["type"] == VALIDATION
        assert problem["detail"].startswith("Idempotency-Key:")
    current = (await client.get(path)).json()
    assert current["revision"] == vm["revision"]  # nothing was written


async def test_the_documented_idempotency_key_pattern_is_the_enforced_one(
    client: Client, clean: Any
) -> None:
    document = await spec(client)
    patterns = {
        p["schema"]["pattern"]
        for _, _, operation in operations(document)
        for p in operation.get("parameters", [])
        if p["name"] == "Idempotency-Key"
    }
    assert patterns == {r'^([!#-~]{1,255}|"[!#-~]{1,255}")$'}
    for key in ("!", "~" * 255, '"quoted-key"', "a#b$c"):
        response = await client.post(
            BASE, json=vm_body(name=f"k{len(key)}"), headers={"Idempotency-Key": key}
        )
        assert response.status_code == 201, (key, response.text)


async def test_every_400_has_the_one_validation_type(client: Client, vm: dict[str, Any]) -> None:
    path = f"{BASE}/{vm['id']}"
    answers = [
        await client.get(BASE, params={"page_size": "abc"}),  # Litestar's parameter parsing
        await client.get(BASE, params={"sort": "nope"}),
        await client.get(BASE, params={"label": "!a=b"}),  # the service's rules
        await client.get(path, headers={"If-None-Match": "nope"}),
        await client.post(BASE, json={"name": 1}),  # the body decoder
        await client.post(BASE, content=b"{", headers={"Content-Type": "application/json"}),
        await client.post(BASE, content=b"", headers={"Content-Type": "application/json"}),
        await client.post(BASE, json=vm_body(), headers={"Idempotency-Key": "a b"}),
        await client.get(BASE, params={"page_size": "1.0"}),  # the query check
        await client.get(f"{path}/events", params={"page_size": 0}),
    ]
    for response in answers:
        problem = assert_problem(response, 400)
        assert problem["type"] == VALIDATION, problem
        assert problem["title"] == "Invalid request"


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH"])
@pytest.mark.parametrize("content_type", ["application/json", None])
async def test_an_empty_body_is_400_naming_the_body(
    client: Client, vm: dict[str, Any], method: str, content_type: str | None
) -> None:
    url = BASE if method == "POST" else f"{BASE}/{vm['id']}"
    headers = {"Content-Type": content_type} if content_type else {}
    response = await client.request(method, url, content=b"", headers=headers)
    problem = assert_problem(response, 400, "body")
    assert problem["detail"] == "body: a JSON object is required"
    assert problem["type"] == VALIDATION


def _same_headers(response: Any) -> dict[str, str]:
    kept = ("content-type", "content-length", "etag", "location", "allow", "retry-after")
    return {k: v for k, v in response.headers.items() if k in kept}


async def test_head_answers_every_get_route_like_get_without_a_body(
    client: Client, vm: dict[str, Any]
) -> None:
    document = await spec(client)
    # WatchVMs' GET never ends (an event stream): tests/e2e/test_watch.py compares its HEAD.
    gets = [
        concrete(path, vm["id"])
        for method, path, operation in operations(document)
        if method == "GET" and operation["operationId"] != "WatchVMs"
    ]
    gets += [f"{BASE}/{MISSING}", f"{BASE}/{MISSING}/events", f"{BASE}?page_size=0"]
    assert len(gets) >= 8
    for url in gets:
        get = await client.get(url)
        head = await client.head(url)
        assert head.status_code == get.status_code, (url, head.text)
        assert _same_headers(head) == _same_headers(get), url
        assert head.content == b"", url
    etag = (await client.get(f"{BASE}/{vm['id']}")).headers["etag"]
    head = await client.head(f"{BASE}/{vm['id']}", headers={"If-None-Match": etag})
    assert (head.status_code, head.content, head.headers["etag"]) == (304, b"", etag)


async def test_options_lists_head_wherever_get_is_allowed(
    client: Client, vm: dict[str, Any]
) -> None:
    document = await spec(client)
    for path in document["paths"]:
        allow = (await client.options(concrete(path, vm["id"]))).headers["allow"]
        methods = set(allow.split(", "))
        assert ("GET" in methods) == ("HEAD" in methods), (path, allow)
        assert methods & {"GET", "POST", "PUT"}, (path, allow)  # no route is OPTIONS only


async def test_options_and_unrouted_paths_ignore_the_query(client: Client) -> None:
    response = await client.options(BASE, params={"status": "running", "x": "1"})
    assert response.status_code == 204
    assert_problem(await client.get("/api/v1/nowhere", params={"x": "1"}), 404)
    # Undocumented routes are no part of the contract: a browser's cache buster is harmless.
    assert (await client.get("/schema/openapi.json", params={"v": "2"})).status_code == 200


async def test_head_is_not_a_documented_operation(client: Client) -> None:
    document = await spec(client)
    assert not any("head" in item for item in document["paths"].values())
    ids = [operation["operationId"] for _, _, operation in operations(document)]
    assert len(ids) == len(set(ids))
