"""BatchVMs on the wire: the envelope, its items as use-case operations, per-item results."""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

import msgspec
from litestar import Request
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Discriminator, OpenAPI, OpenAPIType, Reference, Schema

from service.domain.bulk import BATCH_MAX_OPERATIONS
from service.domain.bulk_items import (
    Create,
    Delete,
    Operation,
    Outcome,
    Refused,
    Replace,
    Update,
    Upsert,
)
from service.domain.errors import (
    BatchInvalid,
    BatchRolledBack,
    DomainError,
    NotApplied,
    PreconditionRequired,
    ValidationFailed,
)
from service.domain.schemas import VM, VMCreate, VMPatch, VMReplace
from service.http.bodies import convert_strictly
from service.http.preconditions import if_match as parse_if_match
from service.http.problems import (
    PROBLEM_MEDIA_TYPE,
    Problem,
    domain_problem,
    status_of,
)

Req = Request[Any, Any, Any]
T = TypeVar("T")

Revision = Annotated[int, msgspec.Meta(ge=1, description="the revision the write expects")]
VMId = Annotated[str, msgspec.Meta(description="the VM's id (24 hex characters)")]


# The envelope: its shape (each item an object of a known `op`, with the members of that op and
# their JSON types) fails the whole batch. An item's values (the upsert's name, the `vm` or
# `patch` body) are checked per item, so that an invalid one is that item's 400 as the single
# operation answers it; the OpenAPI document says so (refine_batch_openapi).
class BatchCreate(msgspec.Struct, tag_field="op", tag="create", forbid_unknown_fields=True):
    """A batch item: create a VM (CreateVM)."""

    vm: dict[str, Any]


class BatchUpdate(msgspec.Struct, tag_field="op", tag="update", forbid_unknown_fields=True):
    """A batch item: merge-patch a VM (UpdateVM)."""

    id: VMId
    patch: dict[str, Any]
    if_match: Revision | None = None


class BatchReplace(msgspec.Struct, tag_field="op", tag="replace", forbid_unknown_fields=True):
    """A batch item: replace a VM (ReplaceVM)."""

    id: VMId
    vm: dict[str, Any]
    if_match: Revision | None = None


class BatchUpsert(msgspec.Struct, tag_field="op", tag="upsert", forbid_unknown_fields=True):
    """A batch item: create or replace the VM with this name (UpsertVM)."""

    name: Annotated[
        str,
        msgspec.Meta(
            description="the VM's name, matched ignoring case; one that breaks the name rules "
            "is this item's 400"
        ),
    ]
    vm: dict[str, Any]


class BatchDelete(msgspec.Struct, tag_field="op", tag="delete", forbid_unknown_fields=True):
    """A batch item: delete a VM (DeleteVM)."""

    id: VMId
    force: bool = False
    if_match: Revision | None = None


BatchOperation = BatchCreate | BatchUpdate | BatchReplace | BatchUpsert | BatchDelete
ITEM_BODIES: dict[type[msgspec.Struct], tuple[str, type[msgspec.Struct]]] = {
    BatchCreate: ("vm", VMCreate), BatchUpdate: ("patch", VMPatch),
    BatchReplace: ("vm", VMReplace), BatchUpsert: ("vm", VMReplace),
}  # fmt: skip


class BatchRequest(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Body of BatchVMs."""

    operations: Annotated[list[BatchOperation], msgspec.Meta(max_length=BATCH_MAX_OPERATIONS)]
    atomic: Annotated[bool, msgspec.Meta(description="all or nothing, in one transaction")] = False


class BatchItemResult(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One item's answer: the status and body its single-VM operation would give."""

    index: int
    status: int
    vm: VM | None = None
    problem: Problem | None = None


class BatchResults(msgspec.Struct, kw_only=True):
    """Answer of BatchVMs: one result per operation, in input order."""

    results: list[BatchItemResult]


def parse_operation(op: BatchOperation, require_if_match: bool = False) -> Operation:
    """The use-case item for one envelope item: Refused when its body is invalid, or when it
    lacks the If-Match its single operation would need (REQUIRE_IF_MATCH; not for upserts)."""
    try:
        if isinstance(op, BatchCreate):
            return Create(convert_strictly(op.vm, VMCreate))
        if isinstance(op, BatchUpsert):
            return Upsert(op.name, convert_strictly(op.vm, VMReplace))
        if op.if_match is None:
            parse_if_match(None, require_if_match)  # 428 when required
        if isinstance(op, BatchUpdate):
            return Update(op.id, convert_strictly(op.patch, VMPatch), op.if_match)
        if isinstance(op, BatchReplace):
            return Replace(op.id, convert_strictly(op.vm, VMReplace), op.if_match)
        return Delete(op.id, op.force, op.if_match)
    except (ValidationFailed, PreconditionRequired) as exc:
        return Refused(exc)


def item_result(request: Req, outcome: Outcome) -> BatchItemResult:
    if outcome.error is not None:
        body = domain_problem(outcome.error).to_response(request).content
        return BatchItemResult(
            index=outcome.index,
            status=status_of(type(outcome.error)),
            problem=msgspec.convert(body, Problem),
        )
    if outcome.vm is None:
        return BatchItemResult(index=outcome.index, status=204)
    return BatchItemResult(
        index=outcome.index, status=201 if outcome.created else 200, vm=outcome.vm
    )


def not_applied(results: list[BatchItemResult]) -> DomainError:
    failed = next(r for r in results if r.status != status_of(NotApplied))
    detail = f"the atomic batch was not applied: operation {failed.index} failed"
    if failed.problem is not None:
        detail += f" ({failed.problem.detail})"
    kind = BatchInvalid if failed.status == status_of(ValidationFailed) else BatchRolledBack
    return kind(detail, results=msgspec.to_builtins(results))


def batch_problem(code: int) -> ResponseSpec:
    """A Problem (as every error answer); an atomic batch's adds `results`, BatchItemResults."""
    return ResponseSpec(
        data_container=Problem,
        description=(
            "Invalid request; for an atomic batch with an invalid item, `results` (a list of "
            "BatchItemResult) names it"
            if code == 400
            else "Conflict; for an atomic batch, not applied: `results` (a list of "
            "BatchItemResult) names the failed item, the others are 424"
        ),
        media_type=PROBLEM_MEDIA_TYPE,
        generate_examples=False,
    )


def _ref(struct: type[msgspec.Struct]) -> Reference:
    return Reference(ref=f"#/components/schemas/{struct.__name__}")


def refine_batch_openapi(openapi: OpenAPI) -> None:
    """Describe the batch items' bodies (any object to the envelope: an invalid one is that
    item's 400, so the document must not refuse it), name the union's discriminator, refuse
    unknown fields."""
    schemas = openapi.components.schemas if openapi.components else {}
    for struct in (*BatchOperation.__args__, BatchRequest):
        schema = schemas.get(struct.__name__)
        if not isinstance(schema, Schema) or schema.properties is None:
            continue
        schema.additional_properties = False
        if struct in ITEM_BODIES:
            field, body = ITEM_BODIES[struct]
            described = Schema(
                type=OpenAPIType.OBJECT,
                description=f"a {body.__name__} body, checked as its single operation checks it: "
                "an invalid one is this item's 400, not the batch's",
            )
            schema.properties = {**schema.properties, field: described}
        operations = schema.properties.get("operations")
        if isinstance(operations, Schema) and isinstance(operations.items, Schema):
            operations.items.discriminator = Discriminator(
                property_name="op",
                mapping={
                    msgspec.inspect.type_info(op).tag: _ref(op).ref  # type: ignore[attr-defined]
                    for op in BatchOperation.__args__
                },
            )
