from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define

from ..types import UNSET, Unset

T = TypeVar("T", bound="QuotaPatch")


@_attrs_define
class QuotaPatch:
    """
    Attributes:
        cpu_cores (int | None | Unset): null: no limit
        memory_mib (int | None | Unset): null: no limit
        storage_gib (int | None | Unset): null: no limit
        vms (int | None | Unset): null: no limit
    """

    cpu_cores: int | None | Unset = UNSET
    memory_mib: int | None | Unset = UNSET
    storage_gib: int | None | Unset = UNSET
    vms: int | None | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        cpu_cores: int | None | Unset
        if isinstance(self.cpu_cores, Unset):
            cpu_cores = UNSET
        else:
            cpu_cores = self.cpu_cores

        memory_mib: int | None | Unset
        if isinstance(self.memory_mib, Unset):
            memory_mib = UNSET
        else:
            memory_mib = self.memory_mib

        storage_gib: int | None | Unset
        if isinstance(self.storage_gib, Unset):
            storage_gib = UNSET
        else:
            storage_gib = self.storage_gib

        vms: int | None | Unset
        if isinstance(self.vms, Unset):
            vms = UNSET
        else:
            vms = self.vms

        field_dict: dict[str, Any] = {}

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

        def _parse_cpu_cores(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        cpu_cores = _parse_cpu_cores(d.pop("cpu_cores", UNSET))

        def _parse_memory_mib(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        memory_mib = _parse_memory_mib(d.pop("memory_mib", UNSET))

        def _parse_storage_gib(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        storage_gib = _parse_storage_gib(d.pop("storage_gib", UNSET))

        def _parse_vms(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        vms = _parse_vms(d.pop("vms", UNSET))

        quota_patch = cls(
            cpu_cores=cpu_cores,
            memory_mib=memory_mib,
            storage_gib=storage_gib,
            vms=vms,
        )

        return quota_patch
