"""Export openapi.json from the app and generate sdk/; with --check, fail when either is stale."""

from __future__ import annotations

import argparse
import difflib
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "openapi.json"
SDK = ROOT / "sdk"
CONFIG = ROOT / "sdk-config.yaml"
TEMPLATES = ROOT / "sdk-templates"
# The hand-written subpackage inside sdk/, which generation keeps; everything else is generated.
HAND_WRITTEN = ("vm_inventory_client", "facade")
SKIP_DIRS = frozenset({"__pycache__", ".ruff_cache", ".mypy_cache", ".pytest_cache"})


def spec_text() -> str:
    """The app's OpenAPI document as stable JSON (sorted keys), built without a server or env."""
    sys.path.insert(0, str(ROOT))
    from litestar.serialization import encode_json

    from service.config import Settings
    from service.http.app import create_app

    # model_construct: defaults only, so neither .env nor the environment changes the spec.
    settings = Settings.model_construct(mongodb_url="mongodb://unused")
    schema = create_app(settings).openapi_schema.to_schema()
    return json.dumps(json.loads(encode_json(schema)), indent=2, sort_keys=True) + "\n"


def module_name(operation_id: str) -> str:
    """An operation id as the name of its generated module: ListVMs -> list_vms, ListVMEvents ->
    list_vm_events (the generator's own snake case splits a plural acronym: list_v_ms)."""
    return "_".join(re.findall(r"[A-Z]+s?(?![a-z])|[A-Z]?[a-z]+|[0-9]+", operation_id)).lower()


def generator_input(text: str) -> str:
    """The spec as the generator gets it: operation ids already in snake case (module_name),
    since it names each module, in code no template reaches, from its operation id."""
    spec = json.loads(text)
    names: dict[str, str] = {}
    for item in spec["paths"].values():
        for operation in item.values():
            if isinstance(operation, dict) and "operationId" in operation:
                name = module_name(operation["operationId"])
                if names.setdefault(name, operation["operationId"]) != operation["operationId"]:
                    sys.exit(f"{names[name]} and {operation['operationId']} both name {name}")
                operation["operationId"] = name
    return json.dumps(spec, indent=2, sort_keys=True) + "\n"


def generate(spec: Path, out: Path) -> None:
    """Run the pinned openapi-python-client on `spec` into the new directory `out`."""
    bin_dir = str(Path(sys.executable).parent)  # the post hooks' ruff is the locked one
    env = {**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", "")}
    command = [
        sys.executable, "-m", "openapi_python_client", "generate", "--path", str(spec),
        "--config", str(CONFIG), "--custom-template-path", str(TEMPLATES), "--meta", "uv",
        "--output-path", str(out), "--fail-on-warning",
    ]  # fmt: skip
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0 or not out.is_dir():
        sys.exit(f"openapi-python-client failed:\n{result.stdout}{result.stderr}")


def tree(root: Path) -> dict[str, bytes]:
    """Generated files under `root` (relative path -> bytes); caches, hand-written skipped."""
    files: dict[str, bytes] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        generated = rel.parts[: len(HAND_WRITTEN)] != HAND_WRITTEN
        if path.is_file() and generated and not SKIP_DIRS & set(rel.parts):
            files[rel.as_posix()] = path.read_bytes()
    return files


def diff(name: str, old: bytes | None, new: bytes | None) -> str:
    """A short unified diff of one file."""
    old_lines = (old or b"").decode(errors="replace").splitlines(keepends=True)
    new_lines = (new or b"").decode(errors="replace").splitlines(keepends=True)
    lines = list(difflib.unified_diff(old_lines, new_lines, f"committed/{name}", f"fresh/{name}"))
    return "".join(lines[:40]) + (
        f"... ({len(lines) - 40} more lines)\n" if len(lines) > 40 else ""
    )


def main() -> int:
    """Regenerate (default) or compare (--check) openapi.json and sdk/."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="compare only; exit 1 when stale")
    args = parser.parse_args()
    text = spec_text()
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "openapi.json"
        spec.write_text(generator_input(text))
        generate(spec, Path(tmp) / "sdk")
        fresh = tree(Path(tmp) / "sdk")
        if args.check:
            committed = tree(SDK) if SDK.is_dir() else {}
            committed_spec = SPEC.read_bytes() if SPEC.exists() else None
            stale = [
                n
                for n in sorted(fresh.keys() | committed.keys())
                if fresh.get(n) != committed.get(n)
            ]
            problems = (
                [diff("openapi.json", committed_spec, text.encode())]
                if committed_spec != text.encode()
                else []
            )
            problems += [diff(f"sdk/{n}", committed.get(n), fresh.get(n)) for n in stale]
            if problems:
                print("openapi.json or sdk/ is stale: run scripts/generate-sdk and commit.\n")
                print("\n".join(problems))
                return 1
            return 0
        SPEC.write_text(text)
        for rel in tree(SDK) if SDK.is_dir() else {}:
            (SDK / rel).unlink()
        for rel, content in fresh.items():
            (SDK / rel).parent.mkdir(parents=True, exist_ok=True)
            (SDK / rel).write_bytes(content)
        for directory in sorted(SDK.rglob("*"), reverse=True):
            if directory.is_dir() and not any(directory.iterdir()):
                directory.rmdir()
    print(f"wrote {SPEC.relative_to(ROOT)} and {len(fresh)} files in {SDK.relative_to(ROOT)}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
