"""A request refused before its body is read closes the connection, so the client's next request cannot fail.

Against gunicorn (gthread workers, keep-alive, as the load test serves the app) over a raw socket: the test
client and live_server (the stdlib server, which drains unread bodies itself) cannot show the problem.
None of these requests touch the database, so the server runs on a throwaway SQLite file.
"""

import contextlib
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from tests.resilience.conftest import free_port, poll

BASE_DIR = Path(settings.BASE_DIR)
SIZE_LIMIT = 1_000_000  # the server's KAM_MAX_REQUEST_BYTES


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_ENV": "test",
        "DATABASE_URL": f"sqlite:///{tmp_path_factory.mktemp('gunicorn') / 'db.sqlite3'}",
        "KAM_MAX_REQUEST_BYTES": str(SIZE_LIMIT),
    }
    command = [
        str(Path(sys.executable).with_name("gunicorn")),
        "kam.wsgi:application",
        "--bind",
        f"127.0.0.1:{port}",
        "--worker-class",
        "gthread",
        "--threads",
        "2",
        "--keep-alive",
        "5",
    ]
    process = subprocess.Popen(  # noqa: S603 - our own argv
        command, cwd=BASE_DIR, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )

    def up() -> bool:
        assert process.poll() is None, "gunicorn exited"
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
                sock.sendall(
                    b"GET /api/v1/accounts/ HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
                )
                return sock.recv(100).startswith(b"HTTP/1.1 401")
        except OSError:
            return False

    try:
        poll(up, timeout=60, message="gunicorn to answer")
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)


def _request(method: str, path: str, *, body: bytes = b"", content_type: str = "application/json") -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: localhost\r\n"
    if body:
        head += f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
    return (head + "\r\n").encode() + body


def _read_response(sock) -> tuple[bytes, dict[str, str]]:
    """The status line and headers of one response, and its body read to Content-Length."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed before a response")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    status, *lines = head.split(b"\r\n")
    headers = {k.decode().lower(): v.decode().strip() for k, _, v in (line.partition(b":") for line in lines)}
    length = int(headers.get("content-length", 0))
    while len(rest) < length:
        rest += sock.recv(65536)
    return status, headers


def _send(sock, data: bytes) -> None:
    # The server may answer and close before it has taken the whole body: that is the point.
    with contextlib.suppress(OSError):
        sock.sendall(data)


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (_request("POST", "/api/v1/orders/bulk/", body=b"x" * 900_000), b"401"),  # no key
        (_request("POST", "/login/", body=b"y" * 900_000, content_type="text/plain"), b"403"),  # no CSRF
        (_request("POST", "/api/v1/orders/bulk/", body=b"z" * (SIZE_LIMIT + 1)), b"413"),
    ],
    ids=["401", "403", "413"],
)
def test_a_refusal_with_an_unread_body_closes_the_connection(server, request_bytes, status):
    with socket.create_connection(("127.0.0.1", server), timeout=10) as sock:
        _send(sock, request_bytes)
        line, headers = _read_response(sock)
        assert status in line
        assert headers["connection"] == "close"


def test_a_refusal_without_a_body_keeps_the_connection_for_the_next_request(server):
    with socket.create_connection(("127.0.0.1", server), timeout=10) as sock:
        sock.sendall(_request("GET", "/api/v1/accounts/"))
        line, headers = _read_response(sock)
        assert b"401" in line
        assert headers["connection"] == "keep-alive"
        sock.sendall(_request("GET", "/api/v1/orders/"))
        assert b"401" in _read_response(sock)[0]
