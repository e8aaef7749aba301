"""The $jsonSchema validator MongoDB holds for `vms` after `migrate up` agrees with the Structs.

Migrations are frozen in time, so the validator is written out in them rather than built from
service/schemas.py; this test is what keeps the two in step. Were VMCreate to accept a value the
validator refuses, inserts would fail with MongoDB error 121 (a 500 to the client). The
validator may leave a limit out (it is the last line of defence); it may never state a different
one, nor one the Structs lack. Widening a limit therefore takes a new migration (collMod).
"""

from __future__ import annotations

from typing import Any

import msgspec.inspect as mi
from pymongo.asynchronous.database import AsyncDatabase

from service.domain.schemas import WRITABLE_FIELDS, VMCreate, VMReplace
from service.storage.stored import DELETION_FIELDS, StoredVM

VALIDATOR = "the validator of `vms` in MongoDB (service/migrations)"
STRUCTS = "VMCreate/VMReplace (service/schemas.py)"
INT = ["int", "long"]


def json_schema(t: mi.Type) -> dict[str, Any]:
    """The $jsonSchema keywords that say exactly what the msgspec type `t` accepts."""
    if isinstance(t, mi.Metadata):
        return json_schema(t.type)
    if isinstance(t, mi.StrType):
        out: dict[str, Any] = {"bsonType": "string"}
        limits = {"minLength": t.min_length, "maxLength": t.max_length, "pattern": t.pattern}
    elif isinstance(t, mi.IntType):
        out = {"bsonType": INT}
        low = t.ge if t.gt is None else t.gt + 1
        high = t.le if t.lt is None else t.lt - 1
        limits = {"minimum": low, "maximum": high}
    elif isinstance(t, mi.DictType):
        out = {"bsonType": "object"}
        limits = {"minProperties": t.min_length, "maxProperties": t.max_length}
    elif isinstance(t, mi.ListType):
        out = {"bsonType": "array"}
        limits = {"minItems": t.min_length, "maxItems": t.max_length}
    elif isinstance(t, mi.DateTimeType):
        out, limits = {"bsonType": "date"}, {}
    elif isinstance(t, mi.EnumType):
        out, limits = {"enum": sorted(member.value for member in t.cls)}, {}
    elif isinstance(t, mi.UnionType) and any(isinstance(m, mi.NoneType) for m in t.types):
        (member,) = [m for m in t.types if not isinstance(m, mi.NoneType)]
        out = json_schema(member)
        out["bsonType"] = [*bson_types(out), "null"]
        limits = {}
    else:
        raise AssertionError(f"no $jsonSchema mapping for {t!r}; extend json_schema()")
    out.update({key: value for key, value in limits.items() if value is not None})
    return out


def bson_types(schema: dict[str, Any]) -> list[str]:
    """`bsonType` as a sorted list (MongoDB accepts a string or a list)."""
    value = schema.get("bsonType", [])
    return sorted([value] if isinstance(value, str) else value)


def fields_of(struct: type[Any]) -> dict[str, mi.Field]:
    info = mi.type_info(struct)
    assert isinstance(info, mi.StructType)
    return {field.name: field for field in info.fields}


def struct_schemas() -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Each writable field's schema, the same from VMCreate and VMReplace (enums: their union,
    as a replace may set any status a create may not), and where the two Structs disagree."""
    create, replace = fields_of(VMCreate), fields_of(VMReplace)
    merged: dict[str, dict[str, Any]] = {}
    problems: list[str] = []
    for name in WRITABLE_FIELDS:
        a, b = json_schema(create[name].type), json_schema(replace[name].type)
        if "enum" in a and "enum" in b:
            a["enum"] = b["enum"] = sorted({*a["enum"], *b["enum"]})
        if a != b:
            problems.append(f"{name}: VMCreate says {a}, VMReplace says {b}")
        merged[name] = a
    return merged, problems


def nullable(schema: dict[str, Any]) -> bool:
    return "null" in bson_types(schema)


async def vms_validator(db: AsyncDatabase[dict[str, Any]]) -> dict[str, Any]:
    """What `listCollections` reports as the validator of `vms` (the session db ran migrate up)."""
    (info,) = [c async for c in await db.list_collections(filter={"name": "vms"})]
    schema: dict[str, Any] = info["options"]["validator"]["$jsonSchema"]
    return schema


def limit_drift(validator: dict[str, Any]) -> list[str]:
    """Every limit of the validator that differs from, or is missing in, the Structs."""
    expected, problems = struct_schemas()
    properties: dict[str, dict[str, Any]] = validator.get("properties", {})
    for name, wanted in expected.items():
        held = properties.get(name)
        if held is None or not ({"bsonType", "enum"} & held.keys()):
            problems.append(f"{name}: {VALIDATOR} does not check its type; {STRUCTS}: {wanted}")
            continue
        for keyword, value in held.items():
            if keyword == "bsonType":
                same = bson_types(held) == bson_types(wanted)
            elif keyword == "enum":
                same = sorted(value) == wanted.get("enum")
            else:
                same = value == wanted.get(keyword)
            if not same:
                theirs = wanted.get(keyword, "no such limit")
                problems.append(
                    f"{name}.{keyword}: {VALIDATOR} says {value!r}, {STRUCTS} say {theirs!r}"
                )
    required = set(validator.get("required", []))
    for name, wanted in expected.items():
        if nullable(wanted) == (name in required):
            state = "requires" if name in required else "does not require"
            why = "may be null" if nullable(wanted) else "is never null"
            problems.append(f"{name}: {VALIDATOR} {state} it, but in {STRUCTS} it {why}")
    return problems


def stored_drift(validator: dict[str, Any]) -> list[str]:
    """Fields of the validator the code does not write, or writes with another type."""
    stored = fields_of(StoredVM)
    problems: list[str] = []
    properties: dict[str, dict[str, Any]] = validator.get("properties", {})
    for name in sorted({*properties, *validator.get("required", [])}):
        if name not in stored:
            problems.append(f"{name}: in {VALIDATOR}, not in StoredVM (service/stored.py)")
        elif "bsonType" in properties.get(name, {}):
            held, wanted = bson_types(properties[name]), bson_types(json_schema(stored[name].type))
            if held != wanted:
                problems.append(
                    f"{name}: {VALIDATOR} says bsonType {held}, StoredVM stores {wanted}"
                )
    return problems


async def test_the_validator_states_the_limits_of_the_structs(
    db: AsyncDatabase[dict[str, Any]],
) -> None:
    problems = limit_drift(await vms_validator(db))
    assert not problems, "validator and Structs disagree:\n" + "\n".join(problems)


async def test_the_validator_matches_the_stored_shape(db: AsyncDatabase[dict[str, Any]]) -> None:
    problems = stored_drift(await vms_validator(db))
    assert not problems, "validator and StoredVM disagree:\n" + "\n".join(problems)


def test_the_comparison_catches_a_change_on_either_side() -> None:
    """The check itself: one side changed alone is reported, naming both sides."""
    cpu = json_schema(fields_of(VMCreate)["cpu_cores"].type)
    validator = {
        "required": sorted(n for n, s in struct_schemas()[0].items() if not nullable(s)),
        "properties": {"cpu_cores": {**cpu, "maximum": cpu["maximum"] * 2}},
    }
    (problem,) = [p for p in limit_drift(validator) if p.startswith("cpu_cores")]
    assert VALIDATOR in problem
    assert STRUCTS in problem
    assert f"{cpu['maximum'] * 2}" in problem
    assert f"{cpu['maximum']}" in problem


async def test_the_deletion_fields_are_optional_dates(db: AsyncDatabase[dict[str, Any]]) -> None:
    """deleted_at and purge_at (migration 0009): dates, never required (a live VM lacks both),
    and StoredVM writes them as such (stored_drift checks their type too)."""
    validator = await vms_validator(db)
    for name in DELETION_FIELDS:
        assert validator["properties"][name] == {"bsonType": "date"}, name
        assert name not in validator["required"], name
        assert name in fields_of(StoredVM), name
    assert not stored_drift(validator)
