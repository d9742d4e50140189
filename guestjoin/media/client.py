"""An asyncio ng client for one rtpengine: requests over one UDP socket, replies matched by
cookie, the same datagram retransmitted while no reply has come (rtpengine answers a repeated
cookie from its cache, so a retransmitted ``offer`` is never executed twice)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Mapping
from typing import Any

from guestjoin.media.ng import NgError, NgReply, NgRequest, parse_reply, request, split_reply

log = logging.getLogger(__name__)


class NgTimeout(NgError):
    """The engine did not answer (no reply, or the host refused the datagram)."""


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, client: NgClient) -> None:
        self.client = client

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        self.client._received(data)

    def error_received(self, exc: Exception) -> None:
        self.client._refused(exc)


#: a ``delete`` reply carries the call's statistics (a few kB): a burst of them must not
#: overflow the socket's receive buffer (a lost reply looks like an engine that is down)
BUFFER_BYTES = 4 * 1024 * 1024
MAX_IN_FLIGHT = 64  # requests awaiting their reply, per engine


class NgClient:
    """Sends ng requests to ``host:port``; ``tries`` sends per request, ``interval`` apart,
    at most ``MAX_IN_FLIGHT`` at a time."""

    def __init__(self, host: str, port: int, *, interval: float = 0.5, tries: int = 3) -> None:
        self.host = host
        self.port = port
        self.interval = interval
        self.tries = max(1, tries)
        self._transport: asyncio.DatagramTransport | None = None
        self._pending: dict[str, tuple[asyncio.Future[bytes], str]] = {}
        self._slots = asyncio.Semaphore(MAX_IN_FLIGHT)

    @property
    def address(self) -> str:
        """``host:port`` (``[v6]:port`` for IPv6)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    async def _ensure_open(self) -> asyncio.DatagramTransport:
        if self._transport is None or self._transport.is_closing():
            loop = asyncio.get_running_loop()
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _Protocol(self), remote_addr=(self.host, self.port)
            )
            sock = transport.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):  # the kernel may cap it (net.core.rmem_max)
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, BUFFER_BYTES)
            self._transport = transport
        return self._transport

    async def call(self, command: Mapping[str, Any]) -> NgReply:
        """Send ``command`` and return its reply (``NgTimeout``/``NgError`` otherwise)."""
        return await self.send(request(command))

    async def send(self, req: NgRequest) -> NgReply:
        """Send a prepared request (retransmitted with its cookie until answered)."""
        async with self._slots:
            return await self._send(req)

    async def _send(self, req: NgRequest) -> NgReply:
        transport = await self._ensure_open()
        datagram = req.datagram()
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._pending[req.cookie] = (future, req.name)
        try:
            for _ in range(self.tries):
                transport.sendto(datagram)
                done, _ = await asyncio.wait((future,), timeout=self.interval)
                if done:
                    break
            if not future.done():
                raise NgTimeout(
                    f"rtpengine {self.address} did not answer {req.name!r} "
                    f"({self.tries} tries, {self.tries * self.interval:g} s)"
                )
            try:
                body = future.result()
            except OSError as exc:
                raise NgTimeout(
                    f"rtpengine {self.address} refused {req.name!r}: {exc.strerror or exc}"
                ) from exc
            return parse_reply(req.cookie, body, req.name)
        finally:
            self._pending.pop(req.cookie, None)

    def _received(self, data: bytes) -> None:
        try:
            cookie, body = split_reply(data)
        except NgError as exc:
            log.warning("rtpengine %s: %s", self.address, exc)
            return
        pending = self._pending.get(cookie)
        if pending is None:
            return  # a late reply to a request already answered or given up
        if not pending[0].done():
            pending[0].set_result(body)

    def _refused(self, exc: Exception) -> None:
        """ICMP port unreachable on the connected socket: nobody listens at the address."""
        for future, _ in list(self._pending.values()):
            if not future.done():
                future.set_exception(exc)

    def close(self) -> None:
        """Close the socket; pending requests fail as unanswered."""
        if self._transport is not None:
            self._transport.close()
            self._transport = None
