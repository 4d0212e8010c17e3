"""The client drops an idle connection before the server would: no create is sent as the server closes it."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from json_http import json_answer

from parsec.client import ParsecClient


class KeptAliveServer(ThreadingHTTPServer):
    """Answers every request with an empty list on a kept-alive HTTP/1.1 connection; counts connections."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.connections = 0
        self.lock = threading.Lock()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        with self.server.lock:
            self.server.connections += 1

    def do_GET(self) -> None:
        json_answer(self, 200, [])

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def server():
    running = KeptAliveServer()
    thread = threading.Thread(target=running.serve_forever, daemon=True)
    thread.start()
    yield running
    running.shutdown()
    running.server_close()


def _client(server: KeptAliveServer, *, keepalive_seconds: float) -> ParsecClient:
    host, port = server.server_address
    return ParsecClient(
        base_url=f"http://{host}:{port}", api_key="pk_test", keepalive_seconds=keepalive_seconds
    )


def test_an_idle_connection_older_than_the_keepalive_is_not_used_again(server):
    client = _client(server, keepalive_seconds=0.05)
    try:
        assert client.list_exchanges() == []
        assert client.list_exchanges() == []  # at once: the same connection
        assert server.connections == 1
        time.sleep(0.2)  # idle for longer than the keepalive: the server might be closing it now
        assert client.list_exchanges() == []
        assert server.connections == 2
    finally:
        client.close()


def test_a_connection_in_use_within_the_keepalive_is_kept(server):
    client = _client(server, keepalive_seconds=5.0)
    try:
        for _ in range(3):
            assert client.list_exchanges() == []
            time.sleep(0.2)
        assert server.connections == 1
    finally:
        client.close()


def test_the_configured_client_keeps_idle_connections_under_gunicorns_two_seconds(settings):
    from parsec.conf import get_client, reset_client

    assert settings.PARSEC_KEEPALIVE_SECONDS < 2
    settings.PARSEC_KEEPALIVE_SECONDS = 0.5
    reset_client()
    try:
        pool = get_client()._http._transport._pool
        assert pool._keepalive_expiry == 0.5
    finally:
        reset_client()
