from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define

from ..types import UNSET, Unset

if TYPE_CHECKING:
    from ..models.batch_create import BatchCreate
    from ..models.batch_delete import BatchDelete
    from ..models.batch_replace import BatchReplace
    from ..models.batch_update import BatchUpdate
    from ..models.batch_upsert import BatchUpsert


T = TypeVar("T", bound="BatchRequest")


@_attrs_define
class BatchRequest:
    """
    Attributes:
        operations (list[BatchCreate | BatchDelete | BatchReplace | BatchUpdate | BatchUpsert]):
        atomic (bool | Unset): all or nothing, in one transaction Default: False.
    """

    operations: list[BatchCreate | BatchDelete | BatchReplace | BatchUpdate | BatchUpsert]
    atomic: bool | Unset = False

    def to_dict(self) -> dict[str, Any]:
        from ..models.batch_create import BatchCreate  # noqa: PLC0415
        from ..models.batch_replace import BatchReplace  # noqa: PLC0415
        from ..models.batch_update import BatchUpdate  # noqa: PLC0415
        from ..models.batch_upsert import BatchUpsert  # noqa: PLC0415

        operations = []
        for operations_item_data in self.operations:
            operations_item: dict[str, Any]
            if isinstance(operations_item_data, BatchCreate):
                operations_item = operations_item_data.to_dict()
            elif isinstance(operations_item_data, BatchUpdate):
                operations_item = operations_item_data.to_dict()
            elif isinstance(operations_item_data, BatchReplace):
                operations_item = operations_item_data.to_dict()
            elif isinstance(operations_item_data, BatchUpsert):
                operations_item = operations_item_data.to_dict()
            else:
                operations_item = operations_item_data.to_dict()

            operations.append(operations_item)

        atomic = self.atomic

        field_dict: dict[str, Any] = {}

        field_dict.update(
            {
                "operations": operations,
            }
        )
        if atomic is not UNSET:
            field_dict["atomic"] = atomic

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.batch_create import BatchCreate  # noqa: PLC0415
        from ..models.batch_delete import BatchDelete  # noqa: PLC0415
        from ..models.batch_replace import BatchReplace  # noqa: PLC0415
        from ..models.batch_update import BatchUpdate  # noqa: PLC0415
        from ..models.batch_upsert import BatchUpsert  # noqa: PLC0415

        d = dict(src_dict)
        operations = []
        _operations = d.pop("operations")
        for operations_item_data in _operations:

            def _parse_operations_item(
                data: object,
            ) -> BatchCreate | BatchDelete | BatchReplace | BatchUpdate | BatchUpsert:
                try:
                    if not isinstance(data, dict):
                        raise TypeError()
                    operations_item_type_0 = BatchCreate.from_dict(data)

                    return operations_item_type_0
                except (TypeError, ValueError, AttributeError, KeyError):
                    pass
                try:
                    if not isinstance(data, dict):
                        raise TypeError()
                    operations_item_type_1 = BatchUpdate.from_dict(data)

                    return operations_item_type_1
                except (TypeError, ValueError, AttributeError, KeyError):
                    pass
                try:
                    if not isinstance(data, dict):
                        raise TypeError()
                    operations_item_type_2 = BatchReplace.from_dict(data)

                    return operations_item_type_2
                except (TypeError, ValueError, AttributeError, KeyError):
                    pass
                try:
                    if not isinstance(data, dict):
                        raise TypeError()
                    operations_item_type_3 = BatchUpsert.from_dict(data)

                    return operations_item_type_3
                except (TypeError, ValueError, AttributeError, KeyError):
                    pass
                if not isinstance(data, dict):
                    raise TypeError()
                operations_item_type_4 = BatchDelete.from_dict(data)

                return operations_item_type_4

            operations_item = _parse_operations_item(operations_item_data)

            operations.append(operations_item)

        atomic = d.pop("atomic", UNSET)

        batch_request = cls(
            operations=operations,
            atomic=atomic,
        )

        return batch_request
