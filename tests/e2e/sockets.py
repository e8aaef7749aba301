"""Raw socket reading for tests that speak HTTP/1.1 by hand."""

from __future__ import annotations

import socket


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (a read timeout fails)."""
    answer = b""
    try:
        while chunk := sock.recv(65536):
            answer += chunk
    except ConnectionResetError:
        pass  # the answer came before the reset
    return answer
