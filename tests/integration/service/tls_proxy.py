"""A TLS-terminating TCP proxy on 127.0.0.1 (what a reverse proxy in front of ``otj serve`` does
for ``OTJ_PUBLIC_URL``): each accepted TLS connection is piped to the backend's plain port
(``Proxy.backend_port``, settable once the backend listens; none yet: the connection closes)."""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path


def _pipe(src: socket.socket, dst: socket.socket) -> None:
    with suppress(OSError):
        while data := src.recv(65536):
            dst.sendall(data)
    with suppress(OSError):
        dst.shutdown(socket.SHUT_WR)


@dataclass
class Proxy:
    url: str
    backend_port: int | None = None


@contextmanager
def tls_proxy(tls: tuple[Path, Path], backend_port: int | None = None) -> Iterator[Proxy]:
    """Serve TLS with ``tls`` (cert, key) until the block ends."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(tls[0]), str(tls[1]))
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()
    proxy = Proxy(f"https://127.0.0.1:{listener.getsockname()[1]}", backend_port)
    open_sockets: list[socket.socket] = []

    def serve_one(raw: socket.socket) -> None:
        try:
            client = context.wrap_socket(raw, server_side=True)
        except (OSError, ssl.SSLError):
            raw.close()
            return
        try:
            if proxy.backend_port is None:
                raise OSError("no backend yet")
            backend = socket.create_connection(("127.0.0.1", proxy.backend_port), timeout=10)
        except OSError:
            client.close()
            return
        backend.settimeout(None)
        client.settimeout(None)
        open_sockets.extend((client, backend))
        threading.Thread(target=_pipe, args=(backend, client), daemon=True).start()
        _pipe(client, backend)

    def accept() -> None:
        while not stop.is_set():
            try:
                raw, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=serve_one, args=(raw,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        stop.set()
        thread.join(timeout=2)
        listener.close()
        for sock in open_sockets:
            with suppress(OSError):
                sock.close()
