"""UDP, TCP and TLS transports on asyncio (RFC 3261 §18, RFC 3581 rport, RFC 5626 keep-alive).

The layer hands every parsed message to one callback together with where it came from. Bad
input never escapes: a malformed request gets a ``400`` with the parser's reason as the reason
phrase (when a Via can be read), anything else is logged and dropped; a stream that cannot be
framed any more is closed. Inbound TCP/TLS connections are accepted by our own loop and held to a
``conntrack.ConnectionPolicy`` (caps per source and in total, first-message, idle and TLS
handshake timeouts).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, cast

from guestjoin.conntrack import ConnectionPolicy, InboundTable
from guestjoin.sip.headers import Via
from guestjoin.sip.message import Message, Request, Response
from guestjoin.sip.parser import (
    DEFAULT_LIMITS,
    Keepalive,
    Limits,
    SipParseError,
    StreamError,
    StreamFramer,
    parse_message,
    via_for_reply,
)
from guestjoin.sip.uri import set_param
from guestjoin.values import (
    RELIABLE,
    UDP_MAX_REQUEST,
    Received,
    Target,
    host_of,
    is_ip,
    render_host,
)

log = logging.getLogger(__name__)

__all__ = [
    "RELIABLE",
    "UDP_MAX_REQUEST",
    "Received",
    "Target",
    "TransportError",
    "TransportLayer",
    "host_of",
    "is_ip",
    "render_host",
]


class TransportError(OSError):
    """A message could not be sent (no route, connection refused, TLS failure, timeout)."""


MessageHandler = Callable[[Message, Received], None]


class Sender(Protocol):
    """What the transaction layer needs from the transports (a seam for unit tests)."""

    def send_datagram(self, data: bytes, host: str, port: int) -> None:
        """Send one UDP datagram."""

    async def send(self, data: bytes, target: Target) -> None:
        """Send over any transport, opening a connection when needed."""

    def send_response(self, data: bytes, via: Via, received: Received | None) -> None:
        """Send a response per §18.2.2."""


def stamp_via(request: Request, remote: tuple[str, int]) -> Request:
    """Add ``received``/``rport`` to the top Via as a server transport must (§18.2.1, RFC 3581)."""
    via = request.top_via
    wants_rport = via.wants_rport
    if not wants_rport and host_of(via.host) == remote[0]:
        return request
    params = set_param(via.params, "received", remote[0])
    if wants_rport:
        params = set_param(params, "rport", str(remote[1]))
    return request.with_top_via(via.with_params(params))


def response_destination(via: Via) -> tuple[str, int]:
    """Where a response goes over an unreliable transport (§18.2.2, RFC 3581 §4). A Via
    ``maddr`` counts only when multicast (its one use, §18.1.1): a unicast one would let anyone
    aim our responses at any host and port."""
    host = via.received or host_of(via.host)
    maddr = next((v for k, v in via.params if k.lower() == "maddr" and v), None)
    if maddr and not via.received and _multicast(maddr):
        host = maddr
    port = via.rport or via.port or (5061 if via.transport == "TLS" else 5060)
    return host_of(host), port


def _multicast(host: str) -> bool:
    try:
        return ipaddress.ip_address(host_of(host)).is_multicast
    except ValueError:
        return False


class Connection(asyncio.Protocol):
    """One TCP or TLS connection, framed by Content-Length (§18.3).

    An inbound connection is created by the accept loop with its remote address, before any
    TLS handshake, so that it counts against the ``ConnectionPolicy`` caps from the start."""

    def __init__(
        self,
        layer: TransportLayer,
        transport_name: str,
        key: tuple[object, ...] | None,
        remote: tuple[str, int] = ("", 0),
    ):
        self.layer = layer
        self.name = transport_name
        self.key = key
        self.framer = StreamFramer(layer.limits)
        self.transport: asyncio.Transport | None = None
        self.remote = remote
        self.local: tuple[str, int] = ("", 0)
        self.last_used = layer.loop.time()
        self.proven = False  # delivered a complete SIP message
        self.opening: asyncio.Task[object] | None = None  # accepted, handshake under way
        self.closed = layer.loop.create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Remember the addresses and register the connection for reuse."""
        self.transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername") or ("", 0)
        sock = transport.get_extra_info("sockname") or ("", 0)
        self.remote = (str(peer[0]), int(peer[1]))
        self.local = (str(sock[0]), int(sock[1]))
        self.last_used = self.layer.loop.time()
        self.layer.register_connection(self)

    def data_received(self, data: bytes) -> None:
        """Frame, parse and deliver; never raise."""
        self.last_used = self.layer.loop.time()
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
                    self.layer.inbound.proven(self)
                self.layer.deliver(frame, self.received(), stream=True)

    def received(self) -> Received:
        """The ``Received`` describing this connection."""
        return Received(transport=self.name, remote=self.remote, local=self.local, connection=self)

    def write(self, data: bytes) -> bool:
        """Write when the connection is open; return whether it was."""
        if not self.alive:
            return False
        assert self.transport is not None
        self.last_used = self.layer.loop.time()
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
        self.layer.forget_connection(self)
        if not self.closed.done():
            self.closed.set_result(None)


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, layer: TransportLayer) -> None:
        self.layer = layer
        self.transport: asyncio.DatagramTransport | None = None
        self.local: tuple[str, int] = ("", 0)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)
        sock = transport.get_extra_info("sockname")
        self.local = (str(sock[0]), int(sock[1]))

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        if len(data) <= 4 and not data.strip(b"\r\n"):
            return  # keep-alive
        self.layer.deliver(
            data,
            Received(transport="udp", remote=(str(addr[0]), int(str(addr[1]))), local=self.local),
            stream=False,
            udp=self,
        )

    def error_received(self, exc: Exception) -> None:
        log.debug("udp %s:%d: %s", *self.local, exc)


@dataclass(frozen=True, kw_only=True, slots=True)
class Listener:
    """One bound listening socket."""

    transport: str
    host: str
    port: int


class TransportLayer:
    """All listening sockets and outgoing connections of one gateway."""

    def __init__(
        self,
        handler: MessageHandler,
        *,
        limits: Limits = DEFAULT_LIMITS,
        tls_server: ssl.SSLContext | None = None,
        tls_client: ssl.SSLContext | None = None,
        connect_timeout: float = 5.0,
        policy: ConnectionPolicy | None = None,
        server_header: str = "otj-gateway",
        udp_buffer: int = 4 * 1024 * 1024,
    ) -> None:
        self.handler = handler
        self.limits = limits
        self.tls_server = tls_server
        self.tls_client = tls_client or ssl.create_default_context()
        self.connect_timeout = connect_timeout
        self.policy = policy or ConnectionPolicy()
        self.inbound: InboundTable[Connection] = InboundTable(self.policy)
        self._refused: dict[str, int] = {}
        self.server_header = server_header
        self.udp_buffer = udp_buffer
        self.loop: asyncio.AbstractEventLoop = asyncio.get_running_loop()
        self.listeners: list[Listener] = []
        self._udp: list[_Udp] = []
        self._accepting: list[tuple[socket.socket, asyncio.Task[None]]] = []
        self._connections: dict[tuple[object, ...], Connection] = {}
        self._by_remote: dict[tuple[str, str, int], Connection] = {}
        self._connecting: dict[tuple[object, ...], asyncio.Future[Connection]] = {}
        self._local_ip_cache: dict[str, str] = {}
        self._sweeper: asyncio.TimerHandle | None = None
        self._own_cache: tuple[tuple[int, int], set[str]] | None = None

    # --- listening -------------------------------------------------------------------------
    async def listen(self, transport: str, host: str, port: int) -> Listener:
        """Bind one socket (port 0 picks a free port) and return what was bound."""
        transport = transport.lower()
        if transport == "udp":
            udp_transport, proto = await self.loop.create_datagram_endpoint(
                lambda: _Udp(self), local_addr=(host, port)
            )
            assert isinstance(proto, _Udp)
            sock = udp_transport.get_extra_info("socket")
            if sock is not None:
                # absorb bursts instead of dropping datagrams (capped by net.core.rmem_max)
                for option in (socket.SO_RCVBUF, socket.SO_SNDBUF):
                    with contextlib.suppress(OSError):
                        sock.setsockopt(socket.SOL_SOCKET, option, self.udp_buffer)
            self._udp.append(proto)
            listener = Listener(transport="udp", host=proto.local[0], port=proto.local[1])
        elif transport in RELIABLE:
            ctx = None
            if transport == "tls":
                if self.tls_server is None:
                    raise ValueError("TLS listener without a server certificate")
                ctx = self.tls_server
            listening = await self._stream_socket(host, port)
            task = self.loop.create_task(self._accept_forever(listening, transport, ctx))
            task.add_done_callback(_log_task_error)
            self._accepting.append((listening, task))
            sock = listening.getsockname()
            listener = Listener(transport=transport, host=str(sock[0]), port=int(sock[1]))
        else:
            raise ValueError(f"unknown transport {transport!r}")
        self.listeners.append(listener)
        if self._sweeper is None:
            self._sweeper = self.loop.call_later(self.policy.sweep_interval, self._sweep)
        log.info("listening on %s %s:%d", listener.transport, listener.host, listener.port)
        return listener

    def listener(self, transport: str) -> Listener | None:
        """The first listener of a transport."""
        return next((lst for lst in self.listeners if lst.transport == transport), None)

    async def close(self) -> None:
        """Close every socket and connection."""
        if self._sweeper is not None:
            self._sweeper.cancel()
        for udp in self._udp:
            if udp.transport is not None:
                udp.transport.close()
        for listening, task in self._accepting:
            task.cancel()
            listening.close()
        conns = list(self._connections.values()) + list(self._by_remote.values())
        conns += self.inbound.connections()
        for conn in conns:
            conn.close()
        for conn in conns:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(conn.closed), 1.0)

    async def _stream_socket(self, host: str, port: int) -> socket.socket:
        infos = await self.loop.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
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

    async def _accept_forever(
        self, listening: socket.socket, transport: str, ctx: ssl.SSLContext | None
    ) -> None:
        """Accept, apply the per-source and total caps, then hand over (TLS: handshake)."""
        while True:
            try:
                sock, addr = await self.loop.sock_accept(listening)
            except OSError as exc:  # EMFILE and friends: try again shortly
                log.warning("%s: cannot accept: %s", transport, exc)
                await asyncio.sleep(0.1)
                continue
            conn = Connection(self, transport, None, remote=(str(addr[0]), int(addr[1])))
            if not self.admit(conn):
                sock.close()
                continue
            conn.opening = self.loop.create_task(self._open_accepted(conn, sock, ctx))
            conn.opening.add_done_callback(_log_task_error)

    async def _open_accepted(
        self, conn: Connection, sock: socket.socket, ctx: ssl.SSLContext | None
    ) -> object:
        try:
            if ctx is None:
                return await self.loop.connect_accepted_socket(lambda: conn, sock)
            return await self.loop.connect_accepted_socket(
                lambda: conn,
                sock,
                ssl=ctx,
                ssl_handshake_timeout=self.policy.tls_handshake_timeout,
            )
        except (OSError, ssl.SSLError, TimeoutError, asyncio.CancelledError) as exc:
            log.info("%s %s:%d: not opened: %s", conn.name, *conn.remote, exc or "abandoned")
            sock.close()
            conn.connection_lost(None)
            return None
        finally:
            conn.opening = None

    # --- receiving -------------------------------------------------------------------------
    def deliver(
        self, data: bytes, received: Received, *, stream: bool, udp: _Udp | None = None
    ) -> None:
        """Parse and hand over one message; answer 400 to a malformed request."""
        try:
            msg = parse_message(data, limits=self.limits, stream=stream)
        except SipParseError as exc:
            self._reject(exc, received, udp)
            return
        if isinstance(msg, Request):
            try:
                msg = stamp_via(msg, received.remote)
            except ValueError as exc:
                log.warning("%s: cannot stamp Via: %s", msg.call_id, exc)
                return
        try:
            self.handler(msg, received)
        except Exception:
            log.exception("%s: unhandled error while processing a message", msg.call_id)

    def _reject(self, exc: SipParseError, received: Received, udp: _Udp | None) -> None:
        call_id = next((v for k, v in exc.headers if k == "Call-ID"), "-")
        log.warning(
            "%s: malformed message from %s %s:%d: %s",
            call_id,
            received.transport,
            *received.remote,
            exc.reason,
        )
        if not via_for_reply(exc):
            return
        reason = exc.reason[:1].upper() + exc.reason[1:]
        headers = [(k, v) for k, v in exc.headers if k == "Via"]
        for name in ("From", "To", "Call-ID", "CSeq"):  # once each, even when repeated
            headers += [(k, v) for k, v in exc.headers if k == name][:1]
        headers.append(("Server", self.server_header))
        try:
            data = Response(status=exc.status, reason=reason, headers=tuple(headers)).to_bytes()
        except ValueError:
            return
        if received.connection is not None:
            received.connection.write(data)
        elif udp is not None and udp.transport is not None:
            udp.transport.sendto(data, received.remote)

    # --- connections -----------------------------------------------------------------------
    def admit(self, conn: Connection) -> bool:
        """Whether an accepted connection passes the ``ConnectionPolicy`` caps.

        Refused, it is closed at once (a peer cannot exhaust our file descriptors); a silent
        connection may be closed to make room for it."""
        admission = self.inbound.admit(conn, conn.remote[0], self.loop.time())
        if not admission.admitted:
            log.debug("%s %s:%d: refused: %s", conn.name, *conn.remote, admission.reason)
            self._refused[admission.reason] = self._refused.get(admission.reason, 0) + 1
            return False
        if admission.evicted is not None:
            evicted = admission.evicted
            log.info("%s %s:%d: closed to make room (silent)", evicted.name, *evicted.remote)
            evicted.close()
        return True

    def register_connection(self, conn: Connection) -> None:
        """Index an open connection by remote address (and by target key for outgoing ones)."""
        self._by_remote[(conn.name, conn.remote[0], conn.remote[1])] = conn
        if conn.key is not None:
            self._connections[conn.key] = conn

    def forget_connection(self, conn: Connection) -> None:
        """Drop a closed connection from the indexes."""
        rkey = (conn.name, conn.remote[0], conn.remote[1])
        if self._by_remote.get(rkey) is conn:
            del self._by_remote[rkey]
        if conn.key is None:
            self.inbound.remove(conn)
        elif self._connections.get(conn.key) is conn:
            del self._connections[conn.key]

    def _sweep(self) -> None:
        """Close connections past the policy's timeouts; report refusals; reschedule."""
        now = self.loop.time()
        for conn, reason in self.inbound.expired(now):
            log.info("%s %s:%d: closing: %s", conn.name, *conn.remote, reason)
            conn.close()
            self.inbound.remove(conn)
        for conn in list(self._connections.values()):
            if now - conn.last_used > self.policy.idle_timeout:
                log.debug("%s %s:%d: closing idle connection", conn.name, *conn.remote)
                conn.close()
        for reason, count in self._refused.items():
            log.warning("refused %d inbound connection(s): %s", count, reason)
        self._refused.clear()
        self._sweeper = self.loop.call_later(self.policy.sweep_interval, self._sweep)

    async def _connection(self, target: Target) -> Connection:
        """An open connection to ``target``: reused when one exists (§18.1.1)."""
        key: tuple[object, ...] = (target.transport, target.host, target.port, target.tls_name)
        conn = self._connections.get(key)
        if conn is not None and conn.alive:
            return conn
        # a connection the peer opened to us is reused for requests back to it (§18.1.1). Over
        # TLS only when no name has to be verified (the flow back to a caller): a connection
        # someone opened to us proves nothing about a domain we must authenticate
        if target.transport == "tcp" or target.tls_name is None:
            inbound = self._by_remote.get((target.transport, target.host, target.port))
            if inbound is not None and inbound.key is None and inbound.alive:
                return inbound
        pending = self._connecting.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[Connection] = self.loop.create_future()
        self._connecting[key] = future
        try:
            conn = await self._open(target, key)
        except BaseException as exc:
            if not future.done():
                future.set_exception(exc)
            future.exception()  # mark retrieved
            raise
        else:
            future.set_result(conn)
            return conn
        finally:
            del self._connecting[key]

    async def _open(self, target: Target, key: tuple[object, ...]) -> Connection:
        ctx = self.tls_client if target.transport == "tls" else None
        try:
            _, proto = await asyncio.wait_for(
                self.loop.create_connection(
                    lambda: Connection(self, target.transport, key),
                    target.host,
                    target.port,
                    ssl=ctx,
                    server_hostname=(target.tls_name or target.host) if ctx else None,
                ),
                self.connect_timeout,
            )
        except (OSError, TimeoutError, ssl.SSLError) as exc:
            raise TransportError(
                f"cannot connect to {target.transport} {target.host}:{target.port}: {exc}"
            ) from exc
        assert isinstance(proto, Connection)
        return proto

    # --- sending ---------------------------------------------------------------------------
    def _udp_for(self, host: str) -> _Udp:
        family_v6 = ":" in host
        for udp in self._udp:
            if (":" in udp.local[0]) == family_v6:
                return udp
        if not self._udp:
            raise TransportError("no UDP listener to send from")
        return self._udp[0]

    def send_datagram(self, data: bytes, host: str, port: int) -> None:
        """Send over UDP from the listening socket (so replies and rport come back to it)."""
        udp = self._udp_for(host)
        if udp.transport is None or udp.transport.is_closing():
            raise TransportError("UDP socket closed")
        udp.transport.sendto(data, (host, port))

    async def send(self, data: bytes, target: Target) -> None:
        """Send a request (or a stateless response) to a resolved target."""
        if target.transport == "udp":
            self.send_datagram(data, target.host, target.port)
            return
        conn = await self._connection(target)
        if not conn.write(data):
            raise TransportError(f"connection to {target.host}:{target.port} closed")

    def send_response(self, data: bytes, via: Via, received: Received | None) -> None:
        """Send a response the way §18.2.2 says: same connection, else Via received/rport."""
        transport = via.transport.lower()
        if transport in RELIABLE:
            conn = received.connection if received is not None else None
            if conn is not None and conn.write(data):
                return
            host, port = response_destination(via)
            inbound = self._by_remote.get((transport, host, port))
            if inbound is not None and inbound.write(data):
                return
            target = Target(transport=transport, host=host, port=port)
            task = self.loop.create_task(self.send(data, target))
            task.add_done_callback(_log_failure)
            return
        if received is not None and received.transport == "udp" and not via.received:
            host, port = received.remote[0], via.port or 5060
            if via.wants_rport:
                port = received.remote[1]
        else:
            host, port = response_destination(via)
        self.send_datagram(data, host, port)

    def local_host(self, transport: str, toward: str | None = None) -> tuple[str, int]:
        """The address to put in Via/Record-Route for ``transport`` (wildcard binds resolved)."""
        listener = self.listener(transport)
        if listener is None:
            raise TransportError(f"no {transport} listener")
        host = listener.host
        if host in ("0.0.0.0", "::"):  # noqa: S104 - resolving a wildcard bind
            host = self._local_ip(toward or "192.0.2.1", v6=host == "::")
        return host, listener.port

    def _local_ip(self, toward: str, *, v6: bool) -> str:
        cached = self._local_ip_cache.get(toward)
        if cached is not None:
            return cached
        family = socket.AF_INET6 if v6 else socket.AF_INET
        try:
            with socket.socket(family, socket.SOCK_DGRAM) as sock:
                sock.connect((toward, 9))
                ip = str(sock.getsockname()[0])
        except OSError:
            ip = "::1" if v6 else "127.0.0.1"
        self._local_ip_cache[toward] = ip
        return ip

    def is_local(self, host: str, port: int | None, transport: str | None = None) -> bool:
        """Whether ``host:port`` names one of our own listeners (loop and Route checks)."""
        bare = host_of(host).lower()
        for lst in self.listeners:
            if transport is not None and lst.transport != transport:
                continue
            default = 5061 if lst.transport == "tls" else 5060
            if (port or default) != lst.port:
                continue
            if bare == lst.host.lower():
                return True
            if lst.host in ("0.0.0.0", "::") and bare in self._own_ips():  # noqa: S104
                return True
        return False

    def _own_ips(self) -> set[str]:
        key = (len(self._local_ip_cache), len(self.listeners))
        if self._own_cache is None or self._own_cache[0] != key:
            ips = {"127.0.0.1", "::1", "localhost"}
            ips.update(self._local_ip_cache.values())
            ips.update(lst.host for lst in self.listeners)
            self._own_cache = (key, ips)
        return self._own_cache[1]


def _log_task_error(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("connection task failed", exc_info=task.exception())


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.info("response not delivered: %s", task.exception())
