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

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.batch_replace_vm import BatchReplaceVm


T = TypeVar("T", bound="BatchReplace")


@_attrs_define
class BatchReplace:
    """
    Attributes:
        id (str): the VM's id (24 hex characters)
        op (Literal['replace']):
        vm (BatchReplaceVm): a VMReplace body, checked as its single operation checks it: an invalid one is this item's
            400, not the batch's
        if_match (int | None | Unset): the revision the write expects
    """

    id: str
    op: Literal["replace"]
    vm: BatchReplaceVm
    if_match: int | None | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        id = self.id

        op = self.op

        vm = self.vm.to_dict()

        if_match: int | None | Unset
        if isinstance(self.if_match, Unset):
            if_match = UNSET
        else:
            if_match = self.if_match

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "id": id,
                "op": op,
                "vm": vm,
            }
        )
        if if_match is not UNSET:
            field_dict["if_match"] = if_match

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.batch_replace_vm import BatchReplaceVm  # noqa: PLC0415

        d = dict(src_dict)
        id = d.pop("id")

        op = cast(Literal["replace"], d.pop("op"))
        if op != "replace":
            raise ValueError(f"op must match const 'replace', got '{op}'")

        vm = BatchReplaceVm.from_dict(d.pop("vm"))

        def _parse_if_match(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        if_match = _parse_if_match(d.pop("if_match", UNSET))

        batch_replace = cls(
            id=id,
            op=op,
            vm=vm,
            if_match=if_match,
        )

        return batch_replace
