from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

if TYPE_CHECKING:
    from ..models.quota import Quota
    from ..models.usage import Usage


T = TypeVar("T", bound="Project")


@_attrs_define
class Project:
    """
    Attributes:
        created_at (str): RFC 3339, UTC, milliseconds
        description (str):
        name (str):
        quota (Quota):
        revision (int):
        updated_at (str): RFC 3339, UTC, milliseconds
        usage (Usage):
    """

    created_at: str
    description: str
    name: str
    quota: Quota
    revision: int
    updated_at: str
    usage: Usage
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        created_at = self.created_at

        description = self.description

        name = self.name

        quota = self.quota.to_dict()

        revision = self.revision

        updated_at = self.updated_at

        usage = self.usage.to_dict()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "created_at": created_at,
                "description": description,
                "name": name,
                "quota": quota,
                "revision": revision,
                "updated_at": updated_at,
                "usage": usage,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.quota import Quota  # noqa: PLC0415
        from ..models.usage import Usage  # noqa: PLC0415

        d = dict(src_dict)
        created_at = d.pop("created_at")

        description = d.pop("description")

        name = d.pop("name")

        quota = Quota.from_dict(d.pop("quota"))

        revision = d.pop("revision")

        updated_at = d.pop("updated_at")

        usage = Usage.from_dict(d.pop("usage"))

        project = cls(
            created_at=created_at,
            description=description,
            name=name,
            quota=quota,
            revision=revision,
            updated_at=updated_at,
            usage=usage,
        )

        project.additional_properties = d
        return project

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())

    def __getitem__(self, key: str) -> Any:
        return self.additional_properties[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.additional_properties[key] = value

    def __delitem__(self, key: str) -> None:
        del self.additional_properties[key]

    def __contains__(self, key: str) -> bool:
        return key in self.additional_properties
