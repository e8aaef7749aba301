from __future__ import annotations

from collections.abc import Mapping
from typing import (
    TYPE_CHECKING,
    Any,
    Literal,
    TypeVar,
    cast,
)

from attrs import define as _attrs_define

if TYPE_CHECKING:
    from ..models.batch_create_vm import BatchCreateVm


T = TypeVar("T", bound="BatchCreate")


@_attrs_define
class BatchCreate:
    """
    Attributes:
        op (Literal['create']):
        vm (BatchCreateVm): a VMCreate body, checked as its single operation checks it: an invalid one is this item's
            400, not the batch's
    """

    op: Literal["create"]
    vm: BatchCreateVm

    def to_dict(self) -> dict[str, Any]:
        op = self.op

        vm = self.vm.to_dict()

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "op": op,
                "vm": vm,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.batch_create_vm import BatchCreateVm  # noqa: PLC0415

        d = dict(src_dict)
        op = cast(Literal["create"], d.pop("op"))
        if op != "create":
            raise ValueError(f"op must match const 'create', got '{op}'")

        vm = BatchCreateVm.from_dict(d.pop("vm"))

        batch_create = cls(
            op=op,
            vm=vm,
        )

        return batch_create
