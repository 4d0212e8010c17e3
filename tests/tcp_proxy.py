"""A TCP proxy on 127.0.0.1 that a test can cut and restore, to simulate a broker outage.

`cut()` closes the listening socket and every connection through it, so clients see their sockets
die and new connections refused, as when a network path to Redis goes away; `restore()` listens
again on the same port. Everything runs in threads of the test process.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading


class TcpProxy:
    def __init__(self, *, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._sockets: set[socket.socket] = set()
        self._accept_thread: threading.Thread | None = None
        self.connections_accepted = 0

    # --- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> int:
        return self._start_listener(self._accept_loop)

    def _start_listener(self, loop) -> int:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(128)
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._accept_thread = threading.Thread(target=loop, args=(listener,), daemon=True)
        self._accept_thread.start()
        return self.port

    def cut(self, *, accept_and_drop: bool = False) -> None:
        """Kill the open connections (both directions) and refuse new ones.

        With `accept_and_drop`, new connections are accepted and closed at once instead, as a load
        balancer without a healthy backend does: a client's reconnect "succeeds", then fails.
        """
        with self._lock:
            listener, self._listener = self._listener, None
            open_sockets, self._sockets = self._sockets, set()
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        for sock in open_sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        if self._accept_thread is not None:
            self._accept_thread.join(timeout=5)
        if accept_and_drop:
            self._start_listener(self._drop_loop)

    def restore(self) -> None:
        self.cut()  # a no-op unless a drop listener is up
        self.start()

    def stop(self) -> None:
        self.cut()

    @property
    def url_netloc(self) -> str:
        return f"127.0.0.1:{self.port}"

    # --- plumbing ----------------------------------------------------------------------------------

    def _accept_loop(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # the listener was closed by cut()
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                if self._listener is not listener:  # cut meanwhile
                    client.close()
                    upstream.close()
                    return
                self._sockets.update((client, upstream))
                self.connections_accepted += 1
            threading.Thread(target=self._pipe, args=(client, upstream), daemon=True).start()

    def _drop_loop(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            client.close()

    def _pipe(self, client: socket.socket, upstream: socket.socket) -> None:
        selector = selectors.DefaultSelector()
        peers = {client: upstream, upstream: client}
        try:
            for sock in peers:
                selector.register(sock, selectors.EVENT_READ)
            while True:
                for key, _ in selector.select(timeout=1.0):
                    data = key.fileobj.recv(65536)
                    if not data:
                        return
                    peers[key.fileobj].sendall(data)
                with self._lock:
                    if client not in self._sockets:
                        return
        except (OSError, ValueError):
            return
        finally:
            selector.close()
            with self._lock:
                self._sockets.discard(client)
                self._sockets.discard(upstream)
            for sock in peers:
                with contextlib.suppress(OSError):
                    sock.close()
