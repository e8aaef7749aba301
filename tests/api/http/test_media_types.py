"""Every route's Content-Type names each parameter once (`text/csv; charset=utf-8`, never
`...; charset=utf-8; charset=utf-8`), for its answers and its problems alike."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.helpers import BASE, Client, vm_body

pytestmark = pytest.mark.usefixtures("clean")
VM = f"{BASE}/{{id}}"
# (method, path, request options): at least one answer of every route and media type it sends.
REQUESTS: list[tuple[str, str, dict[str, Any]]] = [
    ("GET", BASE, {}),
    ("POST", BASE, {"json": vm_body(name="other")}),
    ("POST", BASE, {"json": {"cpu_cores": 0}}),
    ("GET", VM, {}),
    ("PUT", VM, {"json": vm_body()}),
    ("PATCH", VM, {"json": {"cpu_cores": 2}}),
    ("DELETE", f"{BASE}/{'0' * 24}", {}),
    ("POST", f"{VM}/restore", {}),
    ("GET", f"{VM}/events", {}),
    ("HEAD", f"{BASE}/watch", {}),
    ("POST", f"{BASE}/batch", {"json": {"operations": []}}),
    ("PUT", f"{BASE}/by-name/web-01", {"json": vm_body()}),
    ("GET", f"{BASE}/export", {}),
    ("GET", f"{BASE}/export", {"headers": {"Accept": "text/csv"}}),
    ("GET", f"{BASE}/export", {"headers": {"Accept": "image/png"}}),
    ("GET", "/api/v1/projects", {}),
    ("POST", "/api/v1/projects", {"json": {"name": "team-m"}}),
    ("POST", "/api/v1/projects", {"json": {"name": "Not A Label"}}),
    ("GET", "/api/v1/projects/default", {}),
    ("PATCH", "/api/v1/projects/default", {"json": {"description": "d"}}),
    ("DELETE", "/api/v1/projects/default", {}),
    ("GET", "/health/live", {}),
    ("GET", "/health/ready", {}),
    ("GET", "/metrics", {}),
    ("GET", "/schema", {}),
    ("GET", "/schema/swagger", {}),
    ("GET", "/schema/oauth2-redirect.html", {}),
    ("GET", "/schema/assets/swagger-ui.css", {}),
    ("GET", "/schema/openapi.json", {}),
    ("GET", "/schema/openapi.yaml", {}),
    ("GET", "/no/such/route", {}),
]


async def test_every_route_is_in_the_table(client: Client) -> None:
    routes = {route.path.replace(":str", "") for route in client.app.routes}
    covered = {path.replace("{id}", "{vm_id}") for _, path, _ in REQUESTS}
    covered |= {"/api/v1/vms/by-name/{name}", "/schema/{path}", "/schema/assets/{file_path:path}"}
    covered |= {"/api/v1/projects/{name}"}
    assert routes <= covered


@pytest.mark.parametrize(("method", "path", "options"), REQUESTS)
async def test_content_type_names_each_parameter_once(
    client: Client, method: str, path: str, options: dict[str, Any]
) -> None:
    vm = (await client.post(BASE, json=vm_body())).json()
    response = await client.request(method, path.format(id=vm["id"]), **options)
    content_type = response.headers.get("content-type")
    if content_type is None:
        assert response.status_code in (204, 304), response.text
        return
    names = [p.split("=")[0].strip().lower() for p in content_type.split(";")[1:]]
    assert len(names) == len(set(names)), content_type
    if content_type.startswith("text/"):
        assert names.count("charset") == 1, content_type
