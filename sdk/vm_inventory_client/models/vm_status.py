from enum import StrEnum


class VMStatus(StrEnum):
    ERROR = "error"
    PROVISIONING = "provisioning"
    RUNNING = "running"
    STOPPED = "stopped"
    SUSPENDED = "suspended"

    def __str__(self) -> str:
        return str(self.value)
