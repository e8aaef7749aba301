from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.vm_status import VMStatus
from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.vm_labels import VMLabels


T = TypeVar("T", bound="VM")


@_attrs_define
class VM:
    """
    Attributes:
        cpu_cores (int):
        created_at (datetime.datetime): RFC 3339, UTC, milliseconds
        description (str):
        id (str): 24 hex characters
        ip_address (None | str):
        labels (VMLabels):
        memory_mib (int):
        name (str):
        os (str):
        project (str): the project it belongs to; never changes
        revision (int):
        status (VMStatus): Lifecycle status of a VM.
        storage_gib (int):
        updated_at (datetime.datetime): RFC 3339, UTC, milliseconds
        deleted_at (datetime.datetime | Unset): when it was deleted; only on a deleted VM
        purge_at (datetime.datetime | Unset): when it will be purged (no longer restorable); only on a deleted VM
    """

    cpu_cores: int
    created_at: datetime.datetime
    description: str
    id: str
    ip_address: None | str
    labels: VMLabels
    memory_mib: int
    name: str
    os: str
    project: str
    revision: int
    status: VMStatus
    storage_gib: int
    updated_at: datetime.datetime
    deleted_at: datetime.datetime | Unset = UNSET
    purge_at: datetime.datetime | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        cpu_cores = self.cpu_cores

        created_at = self.created_at.isoformat()

        description = self.description

        id = self.id

        ip_address: None | str
        ip_address = self.ip_address

        labels = self.labels.to_dict()

        memory_mib = self.memory_mib

        name = self.name

        os = self.os

        project = self.project

        revision = self.revision

        status = self.status.value

        storage_gib = self.storage_gib

        updated_at = self.updated_at.isoformat()

        deleted_at: str | Unset
        if isinstance(self.deleted_at, Unset):
            deleted_at = UNSET
        else:
            deleted_at = self.deleted_at.isoformat()

        purge_at: str | Unset
        if isinstance(self.purge_at, Unset):
            purge_at = UNSET
        else:
            purge_at = self.purge_at.isoformat()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "cpu_cores": cpu_cores,
                "created_at": created_at,
                "description": description,
                "id": id,
                "ip_address": ip_address,
                "labels": labels,
                "memory_mib": memory_mib,
                "name": name,
                "os": os,
                "project": project,
                "revision": revision,
                "status": status,
                "storage_gib": storage_gib,
                "updated_at": updated_at,
            }
        )
        if deleted_at is not UNSET:
            field_dict["deleted_at"] = deleted_at
        if purge_at is not UNSET:
            field_dict["purge_at"] = purge_at

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.vm_labels import VMLabels  # noqa: PLC0415

        d = dict(src_dict)
        cpu_cores = d.pop("cpu_cores")

        created_at = datetime.datetime.fromisoformat(d.pop("created_at"))

        description = d.pop("description")

        id = d.pop("id")

        def _parse_ip_address(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        ip_address = _parse_ip_address(d.pop("ip_address"))

        labels = VMLabels.from_dict(d.pop("labels"))

        memory_mib = d.pop("memory_mib")

        name = d.pop("name")

        os = d.pop("os")

        project = d.pop("project")

        revision = d.pop("revision")

        status = VMStatus(d.pop("status"))

        storage_gib = d.pop("storage_gib")

        updated_at = datetime.datetime.fromisoformat(d.pop("updated_at"))

        def _parse_deleted_at(data: object) -> datetime.datetime | Unset:
            if isinstance(data, Unset):
                return data
            if not isinstance(data, str):
                raise TypeError()
            deleted_at_type_0 = datetime.datetime.fromisoformat(data)

            return deleted_at_type_0

        deleted_at = _parse_deleted_at(d.pop("deleted_at", UNSET))

        def _parse_purge_at(data: object) -> datetime.datetime | Unset:
            if isinstance(data, Unset):
                return data
            if not isinstance(data, str):
                raise TypeError()
            purge_at_type_0 = datetime.datetime.fromisoformat(data)

            return purge_at_type_0

        purge_at = _parse_purge_at(d.pop("purge_at", UNSET))

        vm = cls(
            cpu_cores=cpu_cores,
            created_at=created_at,
            description=description,
            id=id,
            ip_address=ip_address,
            labels=labels,
            memory_mib=memory_mib,
            name=name,
            os=os,
            project=project,
            revision=revision,
            status=status,
            storage_gib=storage_gib,
            updated_at=updated_at,
            deleted_at=deleted_at,
            purge_at=purge_at,
        )

        vm.additional_properties = d
        return vm

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
