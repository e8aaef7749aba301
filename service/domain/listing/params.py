"""ListVMs' query model: the parameters (ListParams), the orders it offers and the limits."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import msgspec

from service.domain.schemas import VMStatus

MAX_PAGE_SIZE = 500
DEFAULT_PAGE_SIZE = 50
MAX_RANGE = 2**53  # range bounds (the controller's too): exact in JSON clients, inside BSON int64
MAX_VALUES = 20  # per repeatable parameter: bounds the index scans one query may fan out to


class SortOrder(StrEnum):
    """Orders ListVMs offers; a leading `-` means descending. Ties are broken by id."""

    CREATED_AT = "created_at"
    CREATED_AT_DESC = "-created_at"
    NAME = "name"
    NAME_DESC = "-name"
    CPU_CORES = "cpu_cores"
    CPU_CORES_DESC = "-cpu_cores"
    MEMORY_MIB = "memory_mib"
    MEMORY_MIB_DESC = "-memory_mib"
    STORAGE_GIB = "storage_gib"
    STORAGE_GIB_DESC = "-storage_gib"


# API sort name -> stored field (names sort ignoring case, through the lowercased `name_key`).
SORT_FIELDS = {
    "created_at": "created_at",
    "name": "name_key",
    "cpu_cores": "cpu_cores",
    "memory_mib": "memory_mib",
    "storage_gib": "storage_gib",
}
RANGES = ("cpu_cores", "memory_mib", "storage_gib")
"""The fields filtered by a `<field>_min` and `<field>_max` pair."""


class ListParams(msgspec.Struct, kw_only=True):
    """Every ListVMs query parameter, as the controller received it (already type-checked)."""

    project: list[str] | None = None
    status: list[VMStatus] | None = None
    os: list[str] | None = None
    name_prefix: str | None = None
    label: list[str] | None = None
    cpu_cores_min: int | None = None
    cpu_cores_max: int | None = None
    memory_mib_min: int | None = None
    memory_mib_max: int | None = None
    storage_gib_min: int | None = None
    storage_gib_max: int | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    ip_address: str | None = None
    ip_in: str | None = None
    sort: SortOrder = SortOrder.CREATED_AT_DESC
    page_size: int = DEFAULT_PAGE_SIZE
    page_token: str | None = None
    include_total: bool = False
    show_deleted: bool = False


QUERY_PARAMS = frozenset(ListParams.__struct_fields__)
