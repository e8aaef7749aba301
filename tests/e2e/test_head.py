"""HEAD through the real server (uvicorn): GET's status and headers, and no body on the wire."""

import re
import socket

import httpx

from bench.server_process import ServerProcess


def raw_head(port: int, path: str, token: str) -> bytes:
    """The bytes the server sends for one HEAD request (it closes the connection after it)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        request = f"HEAD {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
        sock.sendall((request + "Connection: close\r\n\r\n").encode())
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def test_head_answers_like_get_without_a_body(server: ServerProcess) -> None:
    token = server.create_api_key("e2e-head", "read")
    with httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {token}"}) as c:
        for path in ("/api/v1/vms", "/health/live", "/api/v1/vms/0123456789abcdef01234567"):
            get = c.get(path)
            answer = raw_head(server.port, path, token)
            head, _, body = answer.partition(b"\r\n\r\n")
            assert head.startswith(f"HTTP/1.1 {get.status_code} ".encode()), answer[:200]
            length = re.search(rb"content-length: ([0-9]+)", head.lower())
            assert length, answer[:300]
            # ListVMs' watch_token is the cluster time of each request ("t<seconds>.<increment>"),
            # so its digits may differ between the GET and the HEAD; the rest is the same body.
            watch = get.json().get("watch_token", "") if path == "/api/v1/vms" else ""
            assert int(length[1]) - (len(get.content) - len(watch)) in (
                range(len("t0.0"), len("t4294967295.4294967295") + 1) if watch else {0}
            )
            assert body == b"", answer[:300]
