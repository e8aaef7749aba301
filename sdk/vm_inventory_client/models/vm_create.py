from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define

from ..models.initial_status import InitialStatus
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.vm_create_labels import VMCreateLabels


T = TypeVar("T", bound="VMCreate")


@_attrs_define
class VMCreate:
    """
    Attributes:
        cpu_cores (int):
        memory_mib (int):
        name (str): unique ignoring case
        os (str):
        storage_gib (int):
        description (str | Unset):  Default: ''.
        ip_address (None | str | Unset): IPv4 or IPv6 (no zone id), returned in canonical form; null for none
        labels (VMCreateLabels | Unset): label key -> value
        project (str | Unset): default: the API key's first project, or `default`
        status (InitialStatus | Unset): Statuses a VM may be registered with.
    """

    cpu_cores: int
    memory_mib: int
    name: str
    os: str
    storage_gib: int
    description: str | Unset = ""
    ip_address: None | str | Unset = UNSET
    labels: VMCreateLabels | Unset = UNSET
    project: str | Unset = UNSET
    status: InitialStatus | Unset = UNSET

    def to_dict(self) -> dict[str, Any]:
        cpu_cores = self.cpu_cores

        memory_mib = self.memory_mib

        name = self.name

        os = self.os

        storage_gib = self.storage_gib

        description = self.description

        ip_address: None | str | Unset
        if isinstance(self.ip_address, Unset):
            ip_address = UNSET
        else:
            ip_address = self.ip_address

        labels: dict[str, Any] | Unset = UNSET
        if not isinstance(self.labels, Unset):
            labels = self.labels.to_dict()

        project: str | Unset
        if isinstance(self.project, Unset):
            project = UNSET
        else:
            project = self.project

        status: str | Unset = UNSET
        if not isinstance(self.status, Unset):
            status = self.status.value

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "cpu_cores": cpu_cores,
                "memory_mib": memory_mib,
                "name": name,
                "os": os,
                "storage_gib": storage_gib,
            }
        )
        if description is not UNSET:
            field_dict["description"] = description
        if ip_address is not UNSET:
            field_dict["ip_address"] = ip_address
        if labels is not UNSET:
            field_dict["labels"] = labels
        if project is not UNSET:
            field_dict["project"] = project
        if status is not UNSET:
            field_dict["status"] = status

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.vm_create_labels import VMCreateLabels  # noqa: PLC0415

        d = dict(src_dict)
        cpu_cores = d.pop("cpu_cores")

        memory_mib = d.pop("memory_mib")

        name = d.pop("name")

        os = d.pop("os")

        storage_gib = d.pop("storage_gib")

        description = d.pop("description", UNSET)

        def _parse_ip_address(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        ip_address = _parse_ip_address(d.pop("ip_address", UNSET))

        _labels = d.pop("labels", UNSET)
        labels: VMCreateLabels | Unset
        if isinstance(_labels, Unset):
            labels = UNSET
        else:
            labels = VMCreateLabels.from_dict(_labels)

        def _parse_project(data: object) -> str | Unset:
            if isinstance(data, Unset):
                return data
            return cast(str | Unset, data)

        project = _parse_project(d.pop("project", UNSET))

        _status = d.pop("status", UNSET)
        status: InitialStatus | Unset
        if isinstance(_status, Unset):
            status = UNSET
        else:
            status = InitialStatus(_status)

        vm_create = cls(
            cpu_cores=cpu_cores,
            memory_mib=memory_mib,
            name=name,
            os=os,
            storage_gib=storage_gib,
            description=description,
            ip_address=ip_address,
            labels=labels,
            project=project,
            status=status,
        )

        return vm_create
