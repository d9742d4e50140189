"""TCP and TLS streams (RFC 3261 §18.3): one connection framed by Content-Length, CRLF
keep-alives answered (RFC 5626 §4.4.1), and the accept loop that holds inbound connections to
the ``ConnectionPolicy`` before any TLS handshake work."""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from typing import TYPE_CHECKING, Any, cast

from guestjoin.sip.framing import Keepalive, StreamError, StreamFramer
from guestjoin.values import Received

if TYPE_CHECKING:
    from guestjoin.transport.connections import ConnectionTable

log = logging.getLogger(__name__)


class Connection(asyncio.Protocol):
    """One TCP or TLS connection, framed by Content-Length (§18.3).

    An inbound connection is created by the accept loop with its remote address, before any
    TLS handshake, so that it counts against the ``ConnectionPolicy`` caps from the start."""

    def __init__(
        self,
        table: ConnectionTable,
        transport_name: str,
        key: tuple[object, ...] | None,
        remote: tuple[str, int] = ("", 0),
    ):
        self.table = table
        self.name = transport_name
        self.key = key
        self.framer = StreamFramer(table.limits)
        self.transport: asyncio.Transport | None = None
        self.remote = remote
        self.local: tuple[str, int] = ("", 0)
        self.last_used = table.loop.time()
        self.proven = False  # delivered a complete SIP message
        self.opening: asyncio.Task[object] | None = None  # accepted, handshake under way
        self.closed = table.loop.create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Remember the addresses and register the connection for reuse."""
        self.transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername") or ("", 0)
        sock = transport.get_extra_info("sockname") or ("", 0)
        self.remote = (str(peer[0]), int(peer[1]))
        self.local = (str(sock[0]), int(sock[1]))
        self.last_used = self.table.loop.time()
        self.table.register(self)

    def data_received(self, data: bytes) -> None:
        """Frame, parse and deliver; never raise."""
        self.last_used = self.table.loop.time()
        try:
            frames = self.framer.feed(data)
        except StreamError as exc:
            log.warning("%s %s:%d: closing connection: %s", self.name, *self.remote, exc)
            self.close()
            return
        for frame in frames:
            if frame is Keepalive.PING:
                self.write(b"\r\n")
            elif isinstance(frame, bytes):
                if not self.proven:
                    self.proven = True
                    self.table.inbound.proven(self)
                self.table.deliver(frame, self.received())

    def received(self) -> Received:
        """The ``Received`` describing this connection."""
        return Received(transport=self.name, remote=self.remote, local=self.local, connection=self)

    def write(self, data: bytes) -> bool:
        """Write when the connection is open; return whether it was."""
        if not self.alive:
            return False
        assert self.transport is not None
        self.last_used = self.table.loop.time()
        self.transport.write(data)
        return True

    @property
    def alive(self) -> bool:
        """Open (past the TLS handshake) and not closing."""
        return self.transport is not None and not self.transport.is_closing()

    def close(self) -> None:
        """Close the connection (or abandon its TLS handshake)."""
        if self.transport is not None:
            self.transport.close()
        elif self.opening is not None:
            self.opening.cancel()

    def connection_lost(self, exc: Exception | None) -> None:
        """Forget the connection (idempotent)."""
        self.table.forget(self)
        if not self.closed.done():
            self.closed.set_result(None)


async def listening_socket(loop: asyncio.AbstractEventLoop, host: str, port: int) -> socket.socket:
    """A bound, listening, non-blocking stream socket (IPv6 sockets IPv6 only)."""
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, _, _, _, address = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(address)
        sock.listen(1024)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


async def accept_forever(
    table: ConnectionTable, listening: socket.socket, transport: str, ctx: ssl.SSLContext | None
) -> None:
    """Accept, apply the per-source and total caps, then hand over (TLS: handshake)."""
    loop = table.loop
    while True:
        try:
            sock, addr = await loop.sock_accept(listening)
        except OSError as exc:  # EMFILE and friends: try again shortly
            log.warning("%s: cannot accept: %s", transport, exc)
            await asyncio.sleep(0.1)
            continue
        conn = Connection(table, transport, None, remote=(str(addr[0]), int(addr[1])))
        if not table.admit(conn):
            sock.close()
            continue
        conn.opening = loop.create_task(_open_accepted(table, conn, sock, ctx))
        conn.opening.add_done_callback(log_task_error)


async def _open_accepted(
    table: ConnectionTable, conn: Connection, sock: socket.socket, ctx: ssl.SSLContext | None
) -> object:
    try:
        if ctx is None:
            return await table.loop.connect_accepted_socket(lambda: conn, sock)
        return await table.loop.connect_accepted_socket(
            lambda: conn,
            sock,
            ssl=ctx,
            ssl_handshake_timeout=table.policy.tls_handshake_timeout,
        )
    except (OSError, ssl.SSLError, TimeoutError, asyncio.CancelledError) as exc:
        log.info("%s %s:%d: not opened: %s", conn.name, *conn.remote, exc or "abandoned")
        sock.close()
        conn.connection_lost(None)
        return None
    finally:
        conn.opening = None


def log_task_error(task: asyncio.Task[Any]) -> None:
    """Done callback: log a connection task's failure."""
    if not task.cancelled() and task.exception() is not None:
        log.error("connection task failed", exc_info=task.exception())
