from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

from ..models.vm_status import VMStatus
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.vm_patch_labels_type_0 import VMPatchLabelsType0


T = TypeVar("T", bound="VMPatch")


@_attrs_define
class VMPatch:
    """
    Attributes:
        cpu_cores (int | Unset):
        description (str | Unset):
        ip_address (None | str | Unset): IPv4 or IPv6 (no zone id), returned in canonical form; null for none
        labels (Unset | VMPatchLabelsType0):
        memory_mib (int | Unset):
        name (str | Unset): unique ignoring case
        os (str | Unset):
        project (str | Unset): never changes: only the VM's own project
        status (VMStatus | Unset): Lifecycle status of a VM.
        storage_gib (int | Unset):
    """

    cpu_cores: int | Unset = UNSET
    description: str | Unset = UNSET
    ip_address: None | str | Unset = UNSET
    labels: Unset | VMPatchLabelsType0 = UNSET
    memory_mib: int | Unset = UNSET
    name: str | Unset = UNSET
    os: str | Unset = UNSET
    project: str | Unset = UNSET
    status: VMStatus | Unset = UNSET
    storage_gib: int | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        cpu_cores: int | Unset
        if isinstance(self.cpu_cores, Unset):
            cpu_cores = UNSET
        else:
            cpu_cores = self.cpu_cores

        description: str | Unset
        if isinstance(self.description, Unset):
            description = UNSET
        else:
            description = self.description

        ip_address: None | str | Unset
        if isinstance(self.ip_address, Unset):
            ip_address = UNSET
        else:
            ip_address = self.ip_address

        labels: dict[str, Any] | Unset
        if isinstance(self.labels, Unset):
            labels = UNSET
        else:
            labels = self.labels.to_dict()

        memory_mib: int | Unset
        if isinstance(self.memory_mib, Unset):
            memory_mib = UNSET
        else:
            memory_mib = self.memory_mib

        name: str | Unset
        if isinstance(self.name, Unset):
            name = UNSET
        else:
            name = self.name

        os: str | Unset
        if isinstance(self.os, Unset):
            os = UNSET
        else:
            os = self.os

        project: str | Unset
        if isinstance(self.project, Unset):
            project = UNSET
        else:
            project = self.project

        status: str | Unset = UNSET
        if not isinstance(self.status, Unset):
            status = self.status.value

        storage_gib: int | Unset
        if isinstance(self.storage_gib, Unset):
            storage_gib = UNSET
        else:
            storage_gib = self.storage_gib

        field_dict: dict[str, Any] = {}

        field_dict.update({})
        if cpu_cores is not UNSET:
            field_dict["cpu_cores"] = cpu_cores
        if description is not UNSET:
            field_dict["description"] = description
        if ip_address is not UNSET:
            field_dict["ip_address"] = ip_address
        if labels is not UNSET:
            field_dict["labels"] = labels
        if memory_mib is not UNSET:
            field_dict["memory_mib"] = memory_mib
        if name is not UNSET:
            field_dict["name"] = name
        if os is not UNSET:
            field_dict["os"] = os
        if project is not UNSET:
            field_dict["project"] = project
        if status is not UNSET:
            field_dict["status"] = status
        if storage_gib is not UNSET:
            field_dict["storage_gib"] = storage_gib

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.vm_patch_labels_type_0 import VMPatchLabelsType0  # noqa: PLC0415

        d = dict(src_dict)

        def _parse_cpu_cores(data: object) -> int | Unset:
            if isinstance(data, Unset):
                return data
            return cast(int | Unset, data)

        cpu_cores = _parse_cpu_cores(d.pop("cpu_cores", UNSET))

        def _parse_description(data: object) -> str | Unset:
            if isinstance(data, Unset):
                return data
            return cast(str | Unset, data)

        description = _parse_description(d.pop("description", UNSET))

        def _parse_ip_address(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        ip_address = _parse_ip_address(d.pop("ip_address", UNSET))

        def _parse_labels(data: object) -> Unset | VMPatchLabelsType0:
            if isinstance(data, Unset):
                return data
            if not isinstance(data, dict):
                raise TypeError()
            labels_type_0 = VMPatchLabelsType0.from_dict(data)

            return labels_type_0

        labels = _parse_labels(d.pop("labels", UNSET))

        def _parse_memory_mib(data: object) -> int | Unset:
            if isinstance(data, Unset):
                return data
            return cast(int | Unset, data)

        memory_mib = _parse_memory_mib(d.pop("memory_mib", UNSET))

        def _parse_name(data: object) -> str | Unset:
            if isinstance(data, Unset):
                return data
            return cast(str | Unset, data)

        name = _parse_name(d.pop("name", UNSET))

        def _parse_os(data: object) -> str | Unset:
            if isinstance(data, Unset):
                return data
            return cast(str | Unset, data)

        os = _parse_os(d.pop("os", UNSET))

        def _parse_project(data: object) -> str | Unset:
            if isinstance(data, Unset):
                return data
            return cast(str | Unset, data)

        project = _parse_project(d.pop("project", UNSET))

        _status = d.pop("status", UNSET)
        status: VMStatus | Unset
        if isinstance(_status, Unset):
            status = UNSET
        else:
            status = VMStatus(_status)

        def _parse_storage_gib(data: object) -> int | Unset:
            if isinstance(data, Unset):
                return data
            return cast(int | Unset, data)

        storage_gib = _parse_storage_gib(d.pop("storage_gib", UNSET))

        vm_patch = cls(
            cpu_cores=cpu_cores,
            description=description,
            ip_address=ip_address,
            labels=labels,
            memory_mib=memory_mib,
            name=name,
            os=os,
            project=project,
            status=status,
            storage_gib=storage_gib,
        )

        return vm_patch
