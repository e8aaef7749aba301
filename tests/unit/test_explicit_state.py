"""No ambient state below http: what a write needs (its Idempotency-Key claim, the atomic batch's
transaction) travels in its WriteContext, never in a ContextVar that storage reads behind the
caller's back (issue 22: storage once called http's renderer through one)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "service"
ALLOWED: dict[str, str] = {}  # "service/<path>.py": why it needs a ContextVar (none does today)


def _names(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom):
        return [node.module or ""]
    if isinstance(node, ast.Name):
        return [node.id]
    return [node.attr] if isinstance(node, ast.Attribute) else []


def _ambient_state(path: Path) -> list[str]:
    """The lines of `path` that import contextvars or name ContextVar."""
    tree = ast.parse(path.read_text(), str(path))
    return sorted(
        {
            f"{path}:{getattr(node, 'lineno', 0)}"
            for node in ast.walk(tree)
            if any(name in ("contextvars", "ContextVar") for name in _names(node))
        }
    )


def test_no_context_variable_in_domain_or_storage() -> None:
    modules = [*ROOT.glob("domain/**/*.py"), *ROOT.glob("storage/**/*.py")]
    assert len(modules) > 20
    found = [
        line
        for path in modules
        if str(path.relative_to(ROOT.parent)) not in ALLOWED
        for line in _ambient_state(path)
    ]
    assert found == [], "pass it in the WriteContext (service/domain/events.py) instead"


def test_the_check_finds_a_context_variable(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("import contextvars\nCLAIM = contextvars.ContextVar('claim')\n")
    assert _ambient_state(module) == [f"{module}:1", f"{module}:2"]
