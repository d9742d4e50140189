"""The table of open TCP/TLS connections: inbound ones held to the ``ConnectionPolicy`` (caps
per source and in total, first-message, idle and handshake timeouts), outbound ones opened once
per target and reused, as is a connection the peer opened to us (RFC 3261 §18.1.1, §18.2.2)."""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable

from guestjoin.conntrack import ConnectionPolicy, InboundTable
from guestjoin.sip.parser import Limits
from guestjoin.transport.interfaces import TransportError
from guestjoin.transport.stream import Connection
from guestjoin.values import Received, Target

log = logging.getLogger(__name__)

#: Parses and hands over one framed message of a stream (``TransportLayer.deliver``).
StreamHandler = Callable[[bytes, Received], None]


class ConnectionTable:
    """Every open TCP/TLS connection of one transport layer, by remote address and by target."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        deliver: StreamHandler,
        *,
        limits: Limits,
        policy: ConnectionPolicy,
        tls_client: ssl.SSLContext,
        connect_timeout: float,
    ) -> None:
        self.loop = loop
        self.deliver = deliver
        self.limits = limits
        self.policy = policy
        self.tls_client = tls_client
        self.connect_timeout = connect_timeout
        self.inbound: InboundTable[Connection] = InboundTable(policy)
        self._refused: dict[str, int] = {}
        self._outbound: dict[tuple[object, ...], Connection] = {}
        self._by_remote: dict[tuple[str, str, int], Connection] = {}
        self._connecting: dict[tuple[object, ...], asyncio.Future[Connection]] = {}

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

    def register(self, conn: Connection) -> None:
        """Index an open connection by remote address (and by target key for outgoing ones)."""
        self._by_remote[(conn.name, conn.remote[0], conn.remote[1])] = conn
        if conn.key is not None:
            self._outbound[conn.key] = conn

    def forget(self, conn: Connection) -> None:
        """Drop a closed connection from the indexes."""
        rkey = (conn.name, conn.remote[0], conn.remote[1])
        if self._by_remote.get(rkey) is conn:
            del self._by_remote[rkey]
        if conn.key is None:
            self.inbound.remove(conn)
        elif self._outbound.get(conn.key) is conn:
            del self._outbound[conn.key]

    def by_remote(self, transport: str, host: str, port: int) -> Connection | None:
        """The open connection with that remote address, if any."""
        return self._by_remote.get((transport, host, port))

    def every(self) -> list[Connection]:
        """Every connection, open or opening (for closing them all)."""
        conns = list(self._outbound.values()) + list(self._by_remote.values())
        return conns + self.inbound.connections()

    def sweep(self) -> None:
        """Close connections past the policy's timeouts; report refusals."""
        now = self.loop.time()
        for conn, reason in self.inbound.expired(now):
            log.info("%s %s:%d: closing: %s", conn.name, *conn.remote, reason)
            conn.close()
            self.inbound.remove(conn)
        for conn in list(self._outbound.values()):
            if now - conn.last_used > self.policy.idle_timeout:
                log.debug("%s %s:%d: closing idle connection", conn.name, *conn.remote)
                conn.close()
        for reason, count in self._refused.items():
            log.warning("refused %d inbound connection(s): %s", count, reason)
        self._refused.clear()

    async def connection(self, target: Target) -> Connection:
        """An open connection to ``target``: reused when one exists (§18.1.1)."""
        key: tuple[object, ...] = (target.transport, target.host, target.port, target.tls_name)
        conn = self._outbound.get(key)
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
