"""`python3 _fetch_uv.py VERSION DIR`: put uv's binary in DIR from its PyPI wheel, checked against
PyPI's SHA-256, with the standard library alone (for a python3 without venv or pip)."""

import hashlib
import io
import json
import platform
import sys
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path


def wheel(version: str) -> dict[str, str]:
    """PyPI's record of the uv wheel for this machine (glibc or musl Linux)."""
    url = "https://pypi.org/pypi/uv/json"  # every release's files (mirrors lack /uv/VERSION/json)
    with urllib.request.urlopen(url, timeout=120) as answer:
        files = json.load(answer)["releases"].get(version, [])
    libc = "manylinux" if platform.libc_ver()[0] == "glibc" else "musllinux"
    machine = platform.machine()
    for file in files:
        platforms = file["filename"].removesuffix(".whl").split("-")[-1].split(".")
        if any(p.startswith(libc) and p.endswith(f"_{machine}") for p in platforms):
            link = urllib.parse.urljoin(url, file["url"])  # a mirror may give relative links
            return {"url": link, "sha256": file["digests"]["sha256"]}
    sys.exit(f"no uv {version} wheel for {libc} {machine}: install uv yourself (see its docs)")


def main(version: str, target: Path) -> None:
    """Download, check and unpack the binary into `target`/uv."""
    found = wheel(version)
    with urllib.request.urlopen(found["url"], timeout=300) as answer:
        data = answer.read()
    if hashlib.sha256(data).hexdigest() != found["sha256"]:
        sys.exit(f"{found['url']}: SHA-256 differs from PyPI's; not installed")
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        binary = next(n for n in archive.namelist() if n.endswith(".data/scripts/uv"))
        target.mkdir(parents=True, exist_ok=True)
        partial = target / "uv.partial"
        partial.write_bytes(archive.read(binary))
    partial.chmod(0o755)
    partial.replace(target / "uv")


if __name__ == "__main__":
    try:
        main(sys.argv[1], Path(sys.argv[2]))
    except OSError as exc:  # network, disk: one line, not a traceback
        sys.exit(f"could not install uv from PyPI: {exc}")
