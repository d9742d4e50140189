"""UDP datagrams and the Via rules of a server transport: ``received``/``rport`` on requests
(RFC 3261 §18.2.1, RFC 3581 §4) and where a response goes (§18.2.2)."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import Callable
from typing import cast

from guestjoin.sip.headers import Via
from guestjoin.sip.message import Request
from guestjoin.sip.uri import set_param
from guestjoin.values import Received, host_of

log = logging.getLogger(__name__)

#: Parses and hands over one datagram (``TransportLayer.deliver``).
DatagramHandler = Callable[[bytes, Received, "UdpEndpoint"], None]


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


class UdpEndpoint(asyncio.DatagramProtocol):
    """One listening UDP socket: CRLF keep-alives dropped, every other datagram delivered."""

    def __init__(self, deliver: DatagramHandler) -> None:
        self.deliver = deliver
        self.transport: asyncio.DatagramTransport | None = None
        self.local: tuple[str, int] = ("", 0)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Remember the bound address."""
        self.transport = cast(asyncio.DatagramTransport, transport)
        sock = transport.get_extra_info("sockname")
        self.local = (str(sock[0]), int(sock[1]))

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        """Hand over one datagram (never raises)."""
        if len(data) <= 4 and not data.strip(b"\r\n"):
            return  # keep-alive
        received = Received(
            transport="udp", remote=(str(addr[0]), int(str(addr[1]))), local=self.local
        )
        self.deliver(data, received, self)

    def error_received(self, exc: Exception) -> None:
        """ICMP errors and the like: logged only."""
        log.debug("udp %s:%d: %s", *self.local, exc)
