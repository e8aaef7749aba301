from __future__ import annotations

from collections.abc import Mapping
from typing import (
    Any,
    Literal,
    TypeVar,
    cast,
)

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="BatchDelete")


@_attrs_define
class BatchDelete:
    """
    Attributes:
        id (str): the VM's id (24 hex characters)
        op (Literal['delete']):
        force (bool | Unset):  Default: False.
        if_match (int | None | Unset): the revision the write expects
    """

    id: str
    op: Literal["delete"]
    force: bool | Unset = False
    if_match: int | None | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        id = self.id

        op = self.op

        force = self.force

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
            }
        )
        if force is not UNSET:
            field_dict["force"] = force
        if if_match is not UNSET:
            field_dict["if_match"] = if_match

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        id = d.pop("id")

        op = cast(Literal["delete"], d.pop("op"))
        if op != "delete":
            raise ValueError(f"op must match const 'delete', got '{op}'")

        force = d.pop("force", UNSET)

        def _parse_if_match(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        if_match = _parse_if_match(d.pop("if_match", UNSET))

        batch_delete = cls(
            id=id,
            op=op,
            force=force,
            if_match=if_match,
        )

        return batch_delete
