"""What a failed migration left behind, and which documents stopped it, for its error message."""

from __future__ import annotations

import re
from types import ModuleType
from typing import Any

from pymongo import IndexModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import OperationFailure, PyMongoError

# The runner's own bookkeeping changes on every run; it is not the script's doing.
OWN = ("schema_migrations", "schema_migrations_lock", "schema_servers")
Shape = dict[str, dict[str, Any]]
_DUP_RE = re.compile(r"collection: [^.\s]+\.(\S+) index: (\S+)")
MAX_GROUPS = 10


async def shape(db: AsyncDatabase[dict[str, Any]]) -> Shape:
    """Every collection's validator and index definitions (not its documents)."""
    found: Shape = {}
    async for info in await db.list_collections():
        name = info["name"]
        if name in OWN or name.startswith("system."):
            continue
        indexes = await db[name].index_information() if info.get("type") != "view" else {}
        found[name] = {
            "validator": info.get("options", {}).get("validator"),
            "indexes": {k: {f: v for f, v in i.items() if f != "v"} for k, i in indexes.items()},
        }
    return found


def changes(before: Shape, after: Shape) -> list[str]:
    """The differences between two shapes, one phrase each (`vms: index name_unique_ci created`)."""
    found = [f"collection {n} created" for n in sorted(after.keys() - before.keys())]
    found += [f"collection {n} dropped" for n in sorted(before.keys() - after.keys())]
    for name in sorted(before.keys() & after.keys()):
        old, new = before[name], after[name]
        if old["validator"] != new["validator"]:
            verb = (
                "removed"
                if new["validator"] is None
                else "set"
                if old["validator"] is None
                else "changed"
            )
            found.append(f"{name}: validator {verb}")
        for index in sorted(new["indexes"].keys() - old["indexes"].keys()):
            found.append(f"{name}: index {index} created")
        for index in sorted(old["indexes"].keys() - new["indexes"].keys()):
            found.append(f"{name}: index {index} dropped")
        for index in sorted(old["indexes"].keys() & new["indexes"].keys()):
            if old["indexes"][index] != new["indexes"][index]:
                found.append(f"{name}: index {index} changed")
    return found


def _index_models(module: ModuleType) -> list[IndexModel]:
    models = getattr(module, "INDEXES", None)
    if models is None and callable(getattr(module, "_models", None)):
        models = module._models()
    return [m for m in models or [] if isinstance(m, IndexModel)]


async def blocking_documents(
    db: AsyncDatabase[dict[str, Any]], exc: BaseException, module: ModuleType
) -> str | None:
    """For a unique index that could not be built: the groups of documents that share a key."""
    failure = exc if isinstance(exc, OperationFailure) else exc.__cause__
    if not isinstance(failure, OperationFailure) or failure.code != 11000:
        return None
    where = _DUP_RE.search(str(failure))
    if where is None:
        return f"a unique index found duplicates ({failure})"
    collection, index = where.groups()
    model = next((m for m in _index_models(module) if m.document["name"] == index), None)
    if model is None:
        return f"duplicates under index {index} of {collection}: {failure}"
    fields = list(model.document["key"])
    pushed = {"_id": "$_id", **{f: f"${f}" for f in fields}}
    pipeline: list[dict[str, Any]] = [
        {"$group": {"_id": {f: f"${f}" for f in fields}, "docs": {"$push": pushed}}},
        {"$match": {"docs.1": {"$exists": True}}},
        {"$limit": MAX_GROUPS + 1},
    ]
    options: dict[str, Any] = {}
    if collation := model.document.get("collation"):
        options["collation"] = collation
    try:
        groups = await (await db[collection].aggregate(pipeline, **options)).to_list()
    except PyMongoError as error:
        return f"duplicates under index {index} of {collection} (listing them failed: {error})"

    def doc(d: dict[str, Any]) -> str:
        return f"_id {d['_id']} ({', '.join(f'{f}={d.get(f)!r}' for f in fields)})"

    lines = [
        ", ".join(doc(d) for d in g["docs"][:10]) + (" ..." if len(g["docs"]) > 10 else "")
        for g in groups[:MAX_GROUPS]
    ]
    more = " (first 10 groups)" if len(groups) > MAX_GROUPS else ""
    how = " ignoring case" if collation and collation.get("strength", 3) < 3 else ""
    return (
        f"unique index {index} on {collection} ({', '.join(fields)}{how}) cannot be built: "
        f"each line lists documents sharing one key{more}:\n"
        + "\n".join(f"    {line}" for line in lines)
    )


async def explain(
    db: AsyncDatabase[dict[str, Any]],
    name: str,
    module: ModuleType,
    direction: str,
    exc: Exception,
    before: Shape,
    in_txn: bool,
    rerun: str,
) -> str:
    """A failed script's message: what was rolled back, what stayed, what blocked it, and the
    command to run again (`migrate <rerun>`) once its cause is fixed."""
    verb = "applying" if direction == "up" else "rolling back"
    state = "pending" if direction == "up" else "applied"
    undone = (
        "every write it made inside the transaction (with session=session)"
        if in_txn
        else "nothing (this MongoDB has no transactions)"
    )
    text = str(exc)
    if isinstance(exc, OperationFailure) and exc.details and exc.details.get("errmsg"):
        text = str(exc.details["errmsg"])  # without pymongo's ", full error: {...}" dump
    lines = [
        f"migration {name} failed while {verb} ({type(exc).__name__}: {text})",
        f"  history: not written (the version stays {state})",
        f"  rolled back: {undone}",
    ]
    try:
        left = changes(before, await shape(db))
        blocking = await blocking_documents(db, exc, module)
    except Exception as error:  # the report must not hide the original failure
        left, blocking = [f"unknown (could not compare the schema: {error})"], None
    outside = "ran outside the transaction, " if in_txn else ""
    lines.append(
        f"  not rolled back ({outside}still in place): "
        + ("; ".join(left) if left else "no collection, validator or index change")
        + "; documents written without the session, if any, also stay"
    )
    if blocking:
        lines.append(f"  blocking: {blocking}")
    lines.append(
        f"  fix the cause, then run `python -m service migrate {rerun}` again (the lock is "
        "released; scripts are safe to re-run)"
    )
    return "\n".join(lines)
