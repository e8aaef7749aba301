from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.vm import VM


T = TypeVar("T", bound="VMPage")


@_attrs_define
class VMPage:
    """
    Attributes:
        items (list[VM]):
        next_page_token (None | str):
        watch_token (str): WatchVMs from the first page's token (`resume_token=`) misses no later change; drop events at
            or below a revision you hold
        total_size (int | Unset): VMs matching the filters (only with include_total=true): exact up to 1,000; past that,
            1,000 with total_size_exact false (at least that many match)
        total_size_exact (bool | Unset): with include_total=true: false when total_size is only a lower bound (more than
            1,000 VMs match a filtered list)
    """

    items: list[VM]
    next_page_token: None | str
    watch_token: str
    total_size: int | Unset = UNSET
    total_size_exact: bool | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        items = []
        for items_item_data in self.items:
            items_item = items_item_data.to_dict()
            items.append(items_item)

        next_page_token: None | str
        next_page_token = self.next_page_token

        watch_token = self.watch_token

        total_size: int | Unset
        if isinstance(self.total_size, Unset):
            total_size = UNSET
        else:
            total_size = self.total_size

        total_size_exact: bool | Unset
        if isinstance(self.total_size_exact, Unset):
            total_size_exact = UNSET
        else:
            total_size_exact = self.total_size_exact

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "items": items,
                "next_page_token": next_page_token,
                "watch_token": watch_token,
            }
        )
        if total_size is not UNSET:
            field_dict["total_size"] = total_size
        if total_size_exact is not UNSET:
            field_dict["total_size_exact"] = total_size_exact

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.vm import VM  # noqa: PLC0415

        d = dict(src_dict)
        items = []
        _items = d.pop("items")
        for items_item_data in _items:
            items_item = VM.from_dict(items_item_data)

            items.append(items_item)

        def _parse_next_page_token(data: object) -> None | str:
            if data is None:
                return data
            return cast(None | str, data)

        next_page_token = _parse_next_page_token(d.pop("next_page_token"))

        watch_token = d.pop("watch_token")

        def _parse_total_size(data: object) -> int | Unset:
            if isinstance(data, Unset):
                return data
            return cast(int | Unset, data)

        total_size = _parse_total_size(d.pop("total_size", UNSET))

        def _parse_total_size_exact(data: object) -> bool | Unset:
            if isinstance(data, Unset):
                return data
            return cast(bool | Unset, data)

        total_size_exact = _parse_total_size_exact(d.pop("total_size_exact", UNSET))

        vm_page = cls(
            items=items,
            next_page_token=next_page_token,
            watch_token=watch_token,
            total_size=total_size,
            total_size_exact=total_size_exact,
        )

        vm_page.additional_properties = d
        return vm_page

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
