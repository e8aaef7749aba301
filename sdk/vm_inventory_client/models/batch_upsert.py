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
    from ..models.vm_replace import VMReplace


T = TypeVar("T", bound="BatchUpsert")


@_attrs_define
class BatchUpsert:
    """
    Attributes:
        name (str): unique ignoring case
        op (Literal['upsert']):
        vm (VMReplace):
    """

    name: str
    op: Literal["upsert"]
    vm: VMReplace

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
        from ..models.vm_replace import VMReplace  # noqa: PLC0415

        d = dict(src_dict)
        name = d.pop("name")

        op = cast(Literal["upsert"], d.pop("op"))
        if op != "upsert":
            raise ValueError(f"op must match const 'upsert', got '{op}'")

        vm = VMReplace.from_dict(d.pop("vm"))

        batch_upsert = cls(
            name=name,
            op=op,
            vm=vm,
        )

        return batch_upsert
