"""The transport layer of one gateway (RFC 3261 §18): its listeners, every message received
(parsed, Via stamped, handed to one callback with where it came from) and every message sent.

Bad input never escapes: a malformed request gets a ``400`` with the parser's reason as the reason
phrase (when a Via can be read), anything else is logged and dropped; a stream that cannot be
framed any more is closed. Inbound TCP/TLS connections are accepted by our own loop and held to a
``conntrack.ConnectionPolicy`` (caps per source and in total, first-message, idle and TLS
handshake timeouts; ``connections.ConnectionTable``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from dataclasses import dataclass

from guestjoin.conntrack import ConnectionPolicy, InboundTable
from guestjoin.sip.headers import Via
from guestjoin.sip.message import Request, Response
from guestjoin.sip.parser import DEFAULT_LIMITS, Limits, SipParseError, parse_message, via_for_reply
from guestjoin.transport.connections import ConnectionTable
from guestjoin.transport.interfaces import MessageHandler, TransportError
from guestjoin.transport.stream import Connection, accept_forever, listening_socket, log_task_error
from guestjoin.transport.udp import UdpEndpoint, response_destination, stamp_via
from guestjoin.values import RELIABLE, Received, Target, host_of

log = logging.getLogger(__name__)


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
        self.policy = policy or ConnectionPolicy()
        self.server_header = server_header
        self.udp_buffer = udp_buffer
        self.loop: asyncio.AbstractEventLoop = asyncio.get_running_loop()
        self.connections = ConnectionTable(
            self.loop,
            lambda data, received: self.deliver(data, received, stream=True),
            limits=limits,
            policy=self.policy,
            tls_client=tls_client or ssl.create_default_context(),
            connect_timeout=connect_timeout,
        )
        self.listeners: list[Listener] = []
        self._udp: list[UdpEndpoint] = []
        self._accepting: list[tuple[socket.socket, asyncio.Task[None]]] = []
        self._local_ip_cache: dict[str, str] = {}
        self._sweeper: asyncio.TimerHandle | None = None
        self._own_cache: tuple[tuple[int, int], set[str]] | None = None

    @property
    def inbound(self) -> InboundTable[Connection]:
        """The inbound TCP/TLS connections (counts per source)."""
        return self.connections.inbound

    @property
    def tls_client(self) -> ssl.SSLContext:
        """The context of outbound TLS connections (replaced on an identity change)."""
        return self.connections.tls_client

    @tls_client.setter
    def tls_client(self, context: ssl.SSLContext) -> None:
        self.connections.tls_client = context

    # --- listening -------------------------------------------------------------------------
    async def listen(self, transport: str, host: str, port: int) -> Listener:
        """Bind one socket (port 0 picks a free port) and return what was bound."""
        transport = transport.lower()
        if transport == "udp":
            udp_transport, proto = await self.loop.create_datagram_endpoint(
                lambda: UdpEndpoint(self._deliver_datagram), local_addr=(host, port)
            )
            assert isinstance(proto, UdpEndpoint)
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
            listening = await listening_socket(self.loop, host, port)
            task = self.loop.create_task(
                accept_forever(self.connections, listening, transport, ctx)
            )
            task.add_done_callback(log_task_error)
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
        conns = self.connections.every()
        for conn in conns:
            conn.close()
        for conn in conns:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(conn.closed), 1.0)

    # --- receiving -------------------------------------------------------------------------
    def _deliver_datagram(self, data: bytes, received: Received, udp: UdpEndpoint) -> None:
        self.deliver(data, received, stream=False, udp=udp)

    def deliver(
        self, data: bytes, received: Received, *, stream: bool, udp: UdpEndpoint | None = None
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

    def _reject(self, exc: SipParseError, received: Received, udp: UdpEndpoint | None) -> None:
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

    def _sweep(self) -> None:
        """Close connections past the policy's timeouts; report refusals; reschedule."""
        self.connections.sweep()
        self._sweeper = self.loop.call_later(self.policy.sweep_interval, self._sweep)

    # --- sending ---------------------------------------------------------------------------
    def _udp_for(self, host: str) -> UdpEndpoint:
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
        conn = await self.connections.connection(target)
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
            inbound = self.connections.by_remote(transport, host, port)
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


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.info("response not delivered: %s", task.exception())
