"""openapi.json and sdk/ are what the generator makes from the app now, and the spec is sound."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from typing import Any

from openapi_spec_validator import validate

from tests import ROOT

SPEC: dict[str, Any] = json.loads((ROOT / "openapi.json").read_text())
PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}


def nullable(schema: dict[str, Any]) -> bool:
    """The schema accepts JSON null."""
    options = schema.get("oneOf", []) + schema.get("anyOf", [])
    return schema.get("type") == "null" or any(nullable(option) for option in options)


def test_committed_spec_and_sdk_are_fresh() -> None:
    result = subprocess.run(
        [sys.executable, "scripts/sdkgen.py", "--check"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_generated_modules_are_named_after_their_operation_ids() -> None:
    api = ROOT / "sdk" / "vm_inventory_client" / "api"
    modules = {path.stem for path in api.glob("*/*.py")} - {"__init__"}
    ids = {op["operationId"] for item in SPEC["paths"].values() for op in item.values()}
    assert len(modules) == len(ids)
    assert {"list_vms", "list_vm_events", "batch_vms", "export_vms", "watch_vms"} <= modules
    for name in modules:
        assert not re.search(r"(^|_)[a-z](_|$)", name), name  # an acronym split into letters


def test_spec_is_valid_openapi_3_1() -> None:
    validate(SPEC)
    assert SPEC["openapi"].startswith("3.1")


def test_every_operation_names_itself_and_every_answer() -> None:
    for path, item in SPEC["paths"].items():
        for method, operation in item.items():
            where = f"{method.upper()} {path}"
            assert operation["operationId"], where
            assert operation["summary"], where
            assert any(code.startswith("2") for code in operation["responses"]), where
            if path.startswith("/api/"):
                assert {"400", "401", "403", "414", "429", "431", "500", "503"} <= set(
                    operation["responses"]
                ), where
            if "requestBody" in operation:
                assert {"413", "415"} <= set(operation["responses"]), where
            for code, answer in operation["responses"].items():
                if code in ("204", "304"):
                    assert "content" not in answer, (where, code)  # clients must not parse one
                if code[0] in "45":
                    media = answer["content"]["application/problem+json"]
                    assert media["schema"] == PROBLEM_REF, (where, code)


def test_nullable_fields_are_nullable() -> None:
    schemas = SPEC["components"]["schemas"]
    assert nullable(schemas["VM"]["properties"]["ip_address"])
    assert "ip_address" in schemas["VM"]["required"]
    assert nullable(schemas["VMPage"]["properties"]["next_page_token"])
    assert "next_page_token" in schemas["VMPage"]["required"]
    for member in ("errors", "current_status", "allowed_transitions", "current_revision"):
        assert member not in schemas["Problem"].get("required", []), member
