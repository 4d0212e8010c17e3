"""A webhook receiver in the test process that verifies every delivery with the `standardwebhooks`
package (an independent Standard Webhooks implementation), and helpers shared by the webhook tests.

A uniquely named module (not conftest) so test modules can import it by name.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


@dataclass
class Received:
    webhook_id: str
    timestamp: str
    signature: str
    body: bytes
    verified_by: list[int]  # indexes into Receiver.secrets of the secrets whose signature matched
    answered: str  # ok, or the failure the receiver chose

    @property
    def event(self) -> dict:
        return json.loads(self.body)


# What the receiver does with a request: "ok", "500", "timeout" (holds past the client's timeout),
# "reset" (closes the connection abruptly), or (status, headers) for anything else.
Behaviour = Callable[["Received"], object]


@dataclass
class Receiver:
    secrets: list[str] = field(default_factory=list)
    behaviour: Behaviour = lambda received: "ok"
    hold_seconds: float = 2.0
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                headers = {name.lower(): value for name, value in self.headers.items()}
                verified = []
                for index, secret in enumerate(receiver.secrets):
                    try:
                        Webhook(secret).verify(body, headers)
                        verified.append(index)
                    except WebhookVerificationError:
                        pass
                item = Received(
                    webhook_id=headers.get("webhook-id", ""),
                    timestamp=headers.get("webhook-timestamp", ""),
                    signature=headers.get("webhook-signature", ""),
                    body=body,
                    verified_by=verified,
                    answered="",
                )
                action = receiver.behaviour(item)
                item.answered = action if isinstance(action, str) else f"{action[0]}"
                with receiver.lock:
                    receiver.received.append(item)
                if action == "timeout":
                    time.sleep(receiver.hold_seconds)  # the sender has given up by then
                    return
                if action == "reset":
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.connection.close()
                    return
                status, extra = (200, {}) if action == "ok" else (500, {}) if action == "500" else action
                payload = b'{"ok": true}' if status < 300 else b"nope"
                self.send_response(status)
                for name, value in extra.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks"

    def snapshot(self) -> list[Received]:
        with self.lock:
            return list(self.received)
