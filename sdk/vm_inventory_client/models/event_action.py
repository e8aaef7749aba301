from enum import StrEnum


class EventAction(StrEnum):
    CREATED = "created"
    DELETED = "deleted"
    PURGED = "purged"
    RESTORED = "restored"
    STATUS_CHANGED = "status_changed"
    UPDATED = "updated"

    def __str__(self) -> str:
        return str(self.value)
