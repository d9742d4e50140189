"""What the layers above see of the transports: the error they raise and the ``Sender`` seam
of the transaction layer (RFC 3261 §18)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from guestjoin.sip.headers import Via
from guestjoin.sip.message import Message
from guestjoin.values import Received, Target


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
