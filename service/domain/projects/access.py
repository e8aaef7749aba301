"""What an API key may see and change: every project, or the projects it was created for."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from service.domain.errors import Forbidden
from service.domain.projects.schemas import DEFAULT_PROJECT


@dataclass(frozen=True, slots=True)
class Access:
    """The projects a caller may read and (with a write scope) write: `projects`, or every
    project when None. Its scope (read, write, admin) is checked per route, as before."""

    projects: tuple[str, ...] | None = None

    @property
    def restricted(self) -> bool:
        """Whether the key is limited to some projects."""
        return self.projects is not None

    @property
    def home(self) -> str:
        """Where a VM created without `project` goes: the key's first project, else default."""
        return self.projects[0] if self.projects else DEFAULT_PROJECT

    def sees(self, project: str) -> bool:
        """Whether a VM of `project` exists for this caller (else it is 404 to it)."""
        return self.projects is None or project in self.projects

    def target(self, project: str | None) -> str:
        """The project a create or upsert writes into (`project`, else home); 403 naming
        `project` when the key may not write there."""
        chosen = self.home if project is None else project
        if not self.sees(chosen):
            raise Forbidden("project", f"this API key may not write to project {chosen!r}")
        return chosen

    def narrow(self, requested: Sequence[str] | None) -> tuple[str, ...] | None:
        """The projects a list, watch or export covers: those `requested`, each of which the
        key must read (403 naming `project`), else every project the key reads (None: all)."""
        if not requested:
            return self.projects
        if self.projects is not None:
            denied = [p for p in requested if p not in self.projects]
            if denied:
                raise Forbidden("project", f"this API key may not read project {denied[0]!r}")
        return tuple(dict.fromkeys(requested))


EVERY_PROJECT = Access()
"""An unrestricted key's access (and the CLI's)."""
