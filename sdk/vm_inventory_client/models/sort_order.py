from enum import StrEnum


class SortOrder(StrEnum):
    CPU_CORES = "cpu_cores"
    CREATED_AT = "created_at"
    MEMORY_MIB = "memory_mib"
    NAME = "name"
    STORAGE_GIB = "storage_gib"
    VALUE_1 = "-created_at"
    VALUE_3 = "-name"
    VALUE_5 = "-cpu_cores"
    VALUE_7 = "-memory_mib"
    VALUE_9 = "-storage_gib"

    def __str__(self) -> str:
        return str(self.value)
