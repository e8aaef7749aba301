"""Deeply nested bodies are a 400 on every route that takes one, never a RecursionError 500."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec
import pytest

from service.http.bodies import MAX_BODY_DEPTH
from tests.api.helpers import BASE, Client, assert_problem, vm_body

VALIDATION = "https://vm-inventory.dev/problems/validation"
DEPTHS = [MAX_BODY_DEPTH - 1, MAX_BODY_DEPTH, MAX_BODY_DEPTH + 1, 400, 450, 1000, 100_000]


def arrays(depth: int) -> str:
    """`[[...]]`: `depth` arrays, one inside the other."""
    return "[" * depth + "]" * depth


def objects(depth: int) -> str:
    """`{"a":{"a":...{}}}`: `depth` objects, one inside the other."""
    return '{"a":' * (depth - 1) + "{}" + "}" * (depth - 1)


def mixed(depth: int) -> str:
    """Arrays and objects alternating, with strings that look like brackets on the way."""
    opening = ['["]",' if level % 2 == 0 else '{"a":' for level in range(depth)]
    closing = ["]" if level % 2 == 0 else "}" for level in reversed(range(depth))]
    return "".join(opening) + '"[{"' + "".join(closing)


SHAPES: dict[str, Callable[[int], str]] = {"arrays": arrays, "objects": objects, "mixed": mixed}


def bodies(nested: str, integral_float: bool) -> dict[str, str]:
    """Bodies placing `nested` (a JSON value of 1 level or more) in the places a client could."""
    cores = "2.0" if integral_float else "2"
    fields = f'"name":"deep","os":"x","cpu_cores":{cores},"memory_mib":4096,"storage_gib":4'
    return {
        "unknown field": f'{{{fields},"x":{nested}}}',
        "unknown field first": f'{{"x":{nested},{fields}}}',
        "label value": f'{{{fields},"labels":{{"a":{nested}}}}}',
        "labels": f'{{{fields},"labels":{nested}}}',
        "whole body": nested,
    }


@pytest.fixture
async def vm_id(client: Client, clean: Any) -> str:
    """A VM for the PUT and PATCH routes."""
    response = await client.post(BASE, json=vm_body(name="target"))
    assert response.status_code == 201, response.text
    vm_id: str = response.json()["id"]
    return vm_id


def routes(vm_id: str) -> list[tuple[str, str, str]]:
    """(method, path, content type) of every route with a body."""
    return [
        ("POST", BASE, "application/json"),
        ("PUT", f"{BASE}/{vm_id}", "application/json"),
        ("PATCH", f"{BASE}/{vm_id}", "application/merge-patch+json"),
        ("PATCH", f"{BASE}/{vm_id}", "application/json"),
    ]


@pytest.mark.parametrize("integral_float", [False, True], ids=["int", "integral-float"])
@pytest.mark.parametrize("shape", sorted(SHAPES))
@pytest.mark.parametrize("depth", DEPTHS)
async def test_deep_bodies_are_400_on_every_route(
    client: Client, vm_id: str, depth: int, shape: str, integral_float: bool
) -> None:
    nested = SHAPES[shape](depth)
    for method, path, media_type in routes(vm_id):
        for where, body in bodies(nested, integral_float).items():
            response = await client.request(
                method,
                path,
                content=body,
                headers={"Content-Type": media_type, "Idempotency-Key": f"deep-{depth}-{where}"},
            )
            label = f"{method} {path} {media_type} depth {depth} {shape} in {where}"
            assert response.status_code == 400, f"{label}: {response.text[:300]}"
            problem = assert_problem(response, 400)
            assert problem["type"] == VALIDATION, label
            assert problem["errors"], label
            if depth > MAX_BODY_DEPTH:
                # the whole body counts: the route's own fields add a level or two
                assert problem["errors"][0]["field"] == "body", label
                assert "nest" in problem["detail"], label


async def test_the_limit_counts_nesting_not_brackets(client: Client, clean: Any) -> None:
    """Many sibling arrays, and brackets inside strings, are not depth."""
    body = vm_body(name="wide", description='[{"\\' * 200)
    wide = "[" + ",".join(["[]"] * 5000) + "]"
    text = '{"x":' + wide + "," + msgspec.json.encode(body).decode()[1:]
    response = await client.post(BASE, content=text, headers={"Content-Type": "application/json"})
    problem = assert_problem(response, 400, "x")  # refused for the unknown field, not its depth
    assert "nest" not in problem["detail"]
    response = await client.post(BASE, json=body)
    assert response.status_code == 201, response.text
    assert response.json()["description"] == body["description"]


async def test_valid_bodies_with_integral_floats_still_pass(client: Client, clean: Any) -> None:
    response = await client.post(
        BASE, json=vm_body(name="floaty", cpu_cores=4.0, labels={"a": "b"})
    )
    assert response.status_code == 201, response.text
    assert response.json()["cpu_cores"] == 4
