from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.event_action import EventAction

if TYPE_CHECKING:
    from ..models.vm_event_changes import VMEventChanges


T = TypeVar("T", bound="VMEvent")


@_attrs_define
class VMEvent:
    """
    Attributes:
        action (EventAction): What a write did to a VM.
        actor (str): who wrote: the API key's name, or anonymous
        changes (VMEventChanges):
        id (str):
        project (str):
        request_id (str):
        revision (int): the VM's revision after the write
        timestamp (datetime.datetime): RFC 3339, UTC, milliseconds
        vm_id (str):
    """

    action: EventAction
    actor: str
    changes: VMEventChanges
    id: str
    project: str
    request_id: str
    revision: int
    timestamp: datetime.datetime
    vm_id: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        action = self.action.value

        actor = self.actor

        changes = self.changes.to_dict()

        id = self.id

        project = self.project

        request_id = self.request_id

        revision = self.revision

        timestamp = self.timestamp.isoformat()

        vm_id = self.vm_id

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "action": action,
                "actor": actor,
                "changes": changes,
                "id": id,
                "project": project,
                "request_id": request_id,
                "revision": revision,
                "timestamp": timestamp,
                "vm_id": vm_id,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.vm_event_changes import VMEventChanges  # noqa: PLC0415

        d = dict(src_dict)
        action = EventAction(d.pop("action"))

        actor = d.pop("actor")

        changes = VMEventChanges.from_dict(d.pop("changes"))

        id = d.pop("id")

        project = d.pop("project")

        request_id = d.pop("request_id")

        revision = d.pop("revision")

        timestamp = datetime.datetime.fromisoformat(d.pop("timestamp"))

        vm_id = d.pop("vm_id")

        vm_event = cls(
            action=action,
            actor=actor,
            changes=changes,
            id=id,
            project=project,
            request_id=request_id,
            revision=revision,
            timestamp=timestamp,
            vm_id=vm_id,
        )

        vm_event.additional_properties = d
        return vm_event

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
