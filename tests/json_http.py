"""A JSON answer from a test's own http.server handler."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler


def json_answer(handler: BaseHTTPRequestHandler, status: int, payload: object) -> None:
    """Writes `payload` as a whole JSON answer with its length, so a kept-alive connection stays usable."""
    body = json.dumps(payload).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)
