"""Bugs schemathesis found, pinned: each is a plain request a client could send."""

from typing import Any

from litestar.testing import AsyncTestClient

from tests.api.helpers import BASE, assert_problem, vm_body


async def test_integral_floats_are_integers(client: AsyncTestClient[Any], clean: Any) -> None:
    r = await client.post(BASE, json=vm_body(cpu_cores=2.0, memory_mib=4096.0))
    assert r.status_code == 201, r.text
    assert (r.json()["cpu_cores"], r.json()["memory_mib"]) == (2, 4096)
    assert_problem(
        await client.post(BASE, json=vm_body(name="w-2", cpu_cores=2.5)), 400, "cpu_cores"
    )


async def test_list_rejects_numbers_as_times_and_huge_bounds(client: AsyncTestClient[Any]) -> None:
    assert_problem(await client.get(BASE, params={"created_before": "0.5"}), 400, "created_before")
    big = str(2**70)
    assert_problem(await client.get(BASE, params={"memory_mib_min": big}), 400, "memory_mib_min")
    r = await client.get(BASE, params={"created_after": "2020-01-01T00:00:00Z"})
    assert r.status_code == 200, r.text


async def test_options_lists_every_method_of_the_path(client: AsyncTestClient[Any]) -> None:
    r = await client.options(f"{BASE}/0123456789abcdef01234567")
    assert r.status_code == 204
    assert r.headers["allow"] == "DELETE, GET, HEAD, OPTIONS, PATCH, PUT"
    assert (await client.options(BASE)).headers["allow"] == "GET, HEAD, OPTIONS, POST"


async def test_spec_states_the_body_rules(client: AsyncTestClient[Any]) -> None:
    schemas = (await client.get("/schema/openapi.json")).json()["components"]["schemas"]
    for name in ("VMCreate", "VMReplace", "VMPatch"):
        assert schemas[name]["additionalProperties"] is False
        labels = schemas[name]["properties"]["labels"]
        labels = labels["oneOf"][0] if "oneOf" in labels else labels
        assert labels["propertyNames"]["pattern"].startswith("^[a-z0-9]")
        formats = {s.get("format") for s in schemas[name]["properties"]["ip_address"]["oneOf"]}
        assert {"ipv4", "ipv6"} <= formats
