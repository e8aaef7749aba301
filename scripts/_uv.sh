# Sourced by the scripts: puts a `uv` command in reach (scripts/bootstrap-uv installs one under
# ~/.cache when none is on PATH) and creates or updates .venv from uv.lock.
if command -v uv >/dev/null 2>&1; then
  uv() { command uv "$@"; }
else
  _uv_command="$("$(dirname "${BASH_SOURCE[0]}")/bootstrap-uv")" || return 1
  uv() { "$_uv_command" "$@"; }
fi
uv sync --frozen --all-extras --quiet
