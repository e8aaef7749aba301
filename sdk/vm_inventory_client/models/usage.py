from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

T = TypeVar("T", bound="Usage")


@_attrs_define
class Usage:
    """
    Attributes:
        cpu_cores (int | Unset):  Default: 0.
        memory_mib (int | Unset):  Default: 0.
        storage_gib (int | Unset):  Default: 0.
        vms (int | Unset):  Default: 0.
    """

    cpu_cores: int | Unset = 0
    memory_mib: int | Unset = 0
    storage_gib: int | Unset = 0
    vms: int | Unset = 0
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        cpu_cores = self.cpu_cores

        memory_mib = self.memory_mib

        storage_gib = self.storage_gib

        vms = self.vms

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if cpu_cores is not UNSET:
            field_dict["cpu_cores"] = cpu_cores
        if memory_mib is not UNSET:
            field_dict["memory_mib"] = memory_mib
        if storage_gib is not UNSET:
            field_dict["storage_gib"] = storage_gib
        if vms is not UNSET:
            field_dict["vms"] = vms

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        cpu_cores = d.pop("cpu_cores", UNSET)

        memory_mib = d.pop("memory_mib", UNSET)

        storage_gib = d.pop("storage_gib", UNSET)

        vms = d.pop("vms", UNSET)

        usage = cls(
            cpu_cores=cpu_cores,
            memory_mib=memory_mib,
            storage_gib=storage_gib,
            vms=vms,
        )

        usage.additional_properties = d
        return usage

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
