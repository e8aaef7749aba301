from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.field_error import FieldError


T = TypeVar("T", bound="Problem")


@_attrs_define
class Problem:
    """
    Attributes:
        detail (str):
        status (int):
        title (str):
        type_ (str):
        allowed_transitions (list[str] | None | Unset):
        current_revision (int | None | Unset):
        current_status (None | str | Unset):
        errors (list[FieldError] | None | Unset):
        holder_id (None | str | Unset):
        instance (None | str | Unset):
        limit (int | None | Unset):
        project (None | str | Unset):
        requested (int | None | Unset):
        resource (None | str | Unset):
        trace_id (None | str | Unset):
        used (int | None | Unset):
    """

    detail: str
    status: int
    title: str
    type_: str
    allowed_transitions: list[str] | None | Unset = UNSET
    current_revision: int | None | Unset = UNSET
    current_status: None | str | Unset = UNSET
    errors: list[FieldError] | None | Unset = UNSET
    holder_id: None | str | Unset = UNSET
    instance: None | str | Unset = UNSET
    limit: int | None | Unset = UNSET
    project: None | str | Unset = UNSET
    requested: int | None | Unset = UNSET
    resource: None | str | Unset = UNSET
    trace_id: None | str | Unset = UNSET
    used: int | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        detail = self.detail

        status = self.status

        title = self.title

        type_ = self.type_

        allowed_transitions: list[str] | None | Unset
        if isinstance(self.allowed_transitions, Unset):
            allowed_transitions = UNSET
        elif isinstance(self.allowed_transitions, list):
            allowed_transitions = self.allowed_transitions

        else:
            allowed_transitions = self.allowed_transitions

        current_revision: int | None | Unset
        if isinstance(self.current_revision, Unset):
            current_revision = UNSET
        else:
            current_revision = self.current_revision

        current_status: None | str | Unset
        if isinstance(self.current_status, Unset):
            current_status = UNSET
        else:
            current_status = self.current_status

        errors: list[dict[str, Any]] | None | Unset
        if isinstance(self.errors, Unset):
            errors = UNSET
        elif isinstance(self.errors, list):
            errors = []
            for errors_type_0_item_data in self.errors:
                errors_type_0_item = errors_type_0_item_data.to_dict()
                errors.append(errors_type_0_item)

        else:
            errors = self.errors

        holder_id: None | str | Unset
        if isinstance(self.holder_id, Unset):
            holder_id = UNSET
        else:
            holder_id = self.holder_id

        instance: None | str | Unset
        if isinstance(self.instance, Unset):
            instance = UNSET
        else:
            instance = self.instance

        limit: int | None | Unset
        if isinstance(self.limit, Unset):
            limit = UNSET
        else:
            limit = self.limit

        project: None | str | Unset
        if isinstance(self.project, Unset):
            project = UNSET
        else:
            project = self.project

        requested: int | None | Unset
        if isinstance(self.requested, Unset):
            requested = UNSET
        else:
            requested = self.requested

        resource: None | str | Unset
        if isinstance(self.resource, Unset):
            resource = UNSET
        else:
            resource = self.resource

        trace_id: None | str | Unset
        if isinstance(self.trace_id, Unset):
            trace_id = UNSET
        else:
            trace_id = self.trace_id

        used: int | None | Unset
        if isinstance(self.used, Unset):
            used = UNSET
        else:
            used = self.used

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "detail": detail,
                "status": status,
                "title": title,
                "type": type_,
            }
        )
        if allowed_transitions is not UNSET:
            field_dict["allowed_transitions"] = allowed_transitions
        if current_revision is not UNSET:
            field_dict["current_revision"] = current_revision
        if current_status is not UNSET:
            field_dict["current_status"] = current_status
        if errors is not UNSET:
            field_dict["errors"] = errors
        if holder_id is not UNSET:
            field_dict["holder_id"] = holder_id
        if instance is not UNSET:
            field_dict["instance"] = instance
        if limit is not UNSET:
            field_dict["limit"] = limit
        if project is not UNSET:
            field_dict["project"] = project
        if requested is not UNSET:
            field_dict["requested"] = requested
        if resource is not UNSET:
            field_dict["resource"] = resource
        if trace_id is not UNSET:
            field_dict["trace_id"] = trace_id
        if used is not UNSET:
            field_dict["used"] = used

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.field_error import FieldError  # noqa: PLC0415

        d = dict(src_dict)
        detail = d.pop("detail")

        status = d.pop("status")

        title = d.pop("title")

        type_ = d.pop("type")

        def _parse_allowed_transitions(data: object) -> list[str] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                allowed_transitions_type_0 = cast(list[str], data)

                return allowed_transitions_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[str] | None | Unset, data)

        allowed_transitions = _parse_allowed_transitions(d.pop("allowed_transitions", UNSET))

        def _parse_current_revision(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        current_revision = _parse_current_revision(d.pop("current_revision", UNSET))

        def _parse_current_status(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        current_status = _parse_current_status(d.pop("current_status", UNSET))

        def _parse_errors(data: object) -> list[FieldError] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                errors_type_0 = []
                _errors_type_0 = data
                for errors_type_0_item_data in _errors_type_0:
                    errors_type_0_item = FieldError.from_dict(errors_type_0_item_data)

                    errors_type_0.append(errors_type_0_item)

                return errors_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[FieldError] | None | Unset, data)

        errors = _parse_errors(d.pop("errors", UNSET))

        def _parse_holder_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        holder_id = _parse_holder_id(d.pop("holder_id", UNSET))

        def _parse_instance(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        instance = _parse_instance(d.pop("instance", UNSET))

        def _parse_limit(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        limit = _parse_limit(d.pop("limit", UNSET))

        def _parse_project(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        project = _parse_project(d.pop("project", UNSET))

        def _parse_requested(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        requested = _parse_requested(d.pop("requested", UNSET))

        def _parse_resource(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        resource = _parse_resource(d.pop("resource", UNSET))

        def _parse_trace_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        trace_id = _parse_trace_id(d.pop("trace_id", UNSET))

        def _parse_used(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        used = _parse_used(d.pop("used", UNSET))

        problem = cls(
            detail=detail,
            status=status,
            title=title,
            type_=type_,
            allowed_transitions=allowed_transitions,
            current_revision=current_revision,
            current_status=current_status,
            errors=errors,
            holder_id=holder_id,
            instance=instance,
            limit=limit,
            project=project,
            requested=requested,
            resource=resource,
            trace_id=trace_id,
            used=used,
        )

        problem.additional_properties = d
        return problem

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
