from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.quota_patch import QuotaPatch


T = TypeVar("T", bound="ProjectUpdate")


@_attrs_define
class ProjectUpdate:
    """
    Attributes:
        description (str | Unset):
        quota (QuotaPatch | Unset):
    """

    description: str | Unset = UNSET
    quota: QuotaPatch | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        description: str | Unset
        if isinstance(self.description, Unset):
            description = UNSET
        else:
            description = self.description

        quota: dict[str, Any] | Unset = UNSET
        if not isinstance(self.quota, Unset):
            quota = self.quota.to_dict()

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if description is not UNSET:
            field_dict["description"] = description
        if quota is not UNSET:
            field_dict["quota"] = quota

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.quota_patch import QuotaPatch  # noqa: PLC0415

        d = dict(src_dict)

        def _parse_description(data: object) -> str | Unset:
            if isinstance(data, Unset):
                return data
            return cast(str | Unset, data)

        description = _parse_description(d.pop("description", UNSET))

        _quota = d.pop("quota", UNSET)
        quota: QuotaPatch | Unset
        if isinstance(_quota, Unset):
            quota = UNSET
        else:
            quota = QuotaPatch.from_dict(_quota)

        project_update = cls(
            description=description,
            quota=quota,
        )

        return project_update
