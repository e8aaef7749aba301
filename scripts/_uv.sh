# Sourced by the scripts: puts a `uv` command in reach, installing it with pip when missing.
if command -v uv >/dev/null 2>&1; then
  uv() { command uv "$@"; }
else
  python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet --disable-pip-version-check uv
  uv() { python3 -m uv "$@"; }
fi
uv sync --frozen --all-extras --quiet
