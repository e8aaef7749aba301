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
    from ..models.batch_upsert_vm import BatchUpsertVm


T = TypeVar("T", bound="BatchUpsert")


@_attrs_define
class BatchUpsert:
    """
    Attributes:
        name (str): the VM's name, matched ignoring case; one that breaks the name rules is this item's 400
        op (Literal['upsert']):
        vm (BatchUpsertVm): a VMReplace body, checked as its single operation checks it: an invalid one is this item's
            400, not the batch's
    """

    name: str
    op: Literal["upsert"]
    vm: BatchUpsertVm

    def to_dict(self) -> dict[str, Any]:
        name = self.name

        op = self.op

        vm = self.vm.to_dict()

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "name": name,
                "op": op,
                "vm": vm,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.batch_upsert_vm import BatchUpsertVm  # noqa: PLC0415

        d = dict(src_dict)
        name = d.pop("name")

        op = cast(Literal["upsert"], d.pop("op"))
        if op != "upsert":
            raise ValueError(f"op must match const 'upsert', got '{op}'")

        vm = BatchUpsertVm.from_dict(d.pop("vm"))

        batch_upsert = cls(
            name=name,
            op=op,
            vm=vm,
        )

        return batch_upsert
