"""SIGTERM lets a request that is already in flight finish before the process exits."""

import json
import signal
import socket
import time
import uuid

from bench.server_process import ServerProcess


def test_in_flight_request_finishes_on_sigterm(mongo_url: str) -> None:
    server = ServerProcess(mongo_url, f"e2e_{uuid.uuid4().hex[:8]}").start()
    assert server.process is not None
    body = json.dumps(
        {"name": "inflight-01", "os": "x", "cpu_cores": 1, "memory_mib": 512, "storage_gib": 1}
    ).encode()
    head = (
        f"POST /api/v1/vms HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {server.token}\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=15) as sock:
            sock.sendall(head + body[:10])  # the request is now in flight
            time.sleep(0.3)
            server.process.send_signal(signal.SIGTERM)
            time.sleep(0.5)
            assert server.process.poll() is None  # still finishing the request
            sock.sendall(body[10:])
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 201"), answer[:200]
        assert b'"name":"inflight-01"' in answer
    finally:
        assert server.stop() == 0
