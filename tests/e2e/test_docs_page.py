"""The API docs page at /schema renders in a real browser with no network but the service's."""

from __future__ import annotations

import shutil
import subprocess
import tempfile

import httpx
import pytest

from bench.server_process import ServerProcess

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",  # no host but the service's
    "--virtual-time-budget=20000",  # run the page's scripts for up to 20 s of virtual time
]  # fmt: skip


@pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium: scripts/test installs it (apt-get, as root)"
)
def test_the_docs_page_renders_every_operation_offline(server: ServerProcess) -> None:
    """Headless Chromium, every host but the service's unresolvable, renders /schema: each
    operation of the OpenAPI document is on the page (Swagger UI's own files came from the
    service; with them on a CDN the page stays blank)."""
    spec = httpx.get(server.base_url + "/schema/openapi.json", timeout=10).json()
    operations = {
        f"operations-{operation['tags'][0]}-{operation['operationId']}"
        for item in spec["paths"].values()
        for operation in item.values()
        if isinstance(operation, dict) and "operationId" in operation
    }
    assert len(operations) >= 10
    with tempfile.TemporaryDirectory(prefix="vm-inventory-chromium-") as profile:
        done = subprocess.run(
            [
                str(CHROMIUM),
                *FLAGS,
                f"--user-data-dir={profile}",
                "--dump-dom",
                server.base_url + "/schema",
            ],
            capture_output=True,
            text=True,
            timeout=180,
            check=True,
        )
    rendered = done.stdout
    assert 'class="swagger-ui"' in rendered, rendered[:2000]
    missing = sorted(o for o in operations if f'id="{o}"' not in rendered)
    assert missing == [], rendered[:2000]
