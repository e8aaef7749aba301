"""Projects: many teams on one inventory. Schemas, what a key may see (Access), quota usage."""

from service.domain.projects.access import EVERY_PROJECT, Access
from service.domain.projects.schemas import (
    DEFAULT_PROJECT,
    RESOURCES,
    Project,
    ProjectCreate,
    ProjectPage,
    ProjectUpdate,
    Quota,
    Usage,
    UsageChange,
    change,
    combined,
    usage_of,
)

__all__ = [
    "DEFAULT_PROJECT",
    "EVERY_PROJECT",
    "RESOURCES",
    "Access",
    "Project",
    "ProjectCreate",
    "ProjectPage",
    "ProjectUpdate",
    "Quota",
    "Usage",
    "UsageChange",
    "change",
    "combined",
    "usage_of",
]
