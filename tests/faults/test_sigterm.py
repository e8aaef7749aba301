"""SIGTERM under load: in-flight requests complete, new ones are refused, exit code 0."""

from __future__ import annotations

import json
import socket
import time
import uuid

import httpx
from pymongo import MongoClient

from bench.server_process import ServerProcess
from tests.faults.load import CreateStream, vm_body


def _refused(base_url: str) -> bool:
    try:
        httpx.get(base_url + "/health/live", timeout=2)
    except httpx.ConnectError:
        return True
    except httpx.HTTPError:
        pass
    return False


def test_sigterm_under_load_finishes_in_flight_requests_and_exits_cleanly(mongo_url: str) -> None:
    db_name = f"faults_term_{uuid.uuid4().hex[:8]}"
    server = ServerProcess(mongo_url, db_name)
    stream = CreateStream("", {})
    try:
        server.start()
        stream = CreateStream(server.base_url, server.headers, workers=4).start()
        stream.wait_until(lambda: stream.count(201) >= 30, 30, "creates before SIGTERM")
        # A request surely in flight: headers and part of the body sent before the signal.
        body = json.dumps(vm_body("in-flight")).encode()
        head = [
            "POST /api/v1/vms HTTP/1.1",
            f"Host: 127.0.0.1:{server.port}",
            "Content-Type: application/json",
            f"Content-Length: {len(body)}",
            *(f"{k}: {v}" for k, v in server.headers.items()),
        ]
        with socket.create_connection(("127.0.0.1", server.port), timeout=15) as sock:
            sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + body[:10])
            time.sleep(0.3)
            server.terminate()
            terminated = time.time()
            deadline = terminated + 10
            while not _refused(server.base_url):  # new connections are refused
                assert time.time() < deadline, "still accepting connections after SIGTERM"
                time.sleep(0.05)
            sock.sendall(body[10:])
            reply = b""
            while chunk := sock.recv(65536):
                reply += chunk
        assert reply.startswith(b"HTTP/1.1 201"), reply[:300]
        assert server.wait(30) == 0
    finally:
        outcomes = stream.stop()
        server.stop()

    # Every answer the clients got was a success; failures are refused connections after SIGTERM.
    assert {o.status for o in outcomes} <= {201, 0}, stream.summary()
    assert all(o.ended >= terminated for o in outcomes if o.status == 0)
    assert "Traceback" not in server.output()
    with MongoClient(mongo_url) as check:
        stored = {d["name"] for d in check[db_name]["vms"].find({}, {"name": 1})}
        check.drop_database(db_name)
    assert stream.created_names() | {"in-flight"} <= stored
