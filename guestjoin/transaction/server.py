"""Server transactions (RFC 3261 §17.2: INVITE §17.2.1 with the RFC 6026 Accepted state,
non-INVITE §17.2.2) and the key retransmissions and ACKs are matched by (§17.2.3)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from guestjoin.clock import TimerHandle
from guestjoin.sip.headers import Via
from guestjoin.sip.message import Request, Response
from guestjoin.transaction.timers import MAGIC, State
from guestjoin.transport.interfaces import TransportError
from guestjoin.values import Received

if TYPE_CHECKING:
    from guestjoin.transaction.layer import TransactionLayer

log = logging.getLogger(__name__)


def server_key(request: Request, via: Via) -> tuple[str, ...]:
    """The §17.2.3 key: branch, sent-by and method (ACK matches INVITE)."""
    method = "INVITE" if request.method == "ACK" else request.method
    branch = via.branch or ""
    if branch.startswith(MAGIC):
        return (branch, via.sent_by.lower(), method)
    # RFC 2543 peers: fall back on the dialog and CSeq identifiers
    return (
        "2543",
        request.call_id,
        request.from_.tag or "",
        str(request.cseq.number),
        method,
        via.sent_by.lower(),
        branch,
    )


class ServerTransaction:
    """An INVITE (§17.2.1) or non-INVITE (§17.2.2) server transaction."""

    def __init__(
        self, layer: TransactionLayer, request: Request, received: Received, key: tuple[str, ...]
    ) -> None:
        self.layer = layer
        self.request = request
        self.received = received
        self.key = key
        self.via = request.top_via
        self.invite = request.method == "INVITE"
        self.state = State.PROCEEDING if self.invite else State.TRYING
        self.last_response: Response | None = None
        self._last_bytes: bytes | None = None
        self._timers: list[TimerHandle] = []
        self._g_interval = layer.timers.t1
        self.on_ack: Callable[[Request], None] | None = None

    @property
    def call_id(self) -> str:
        """The request's Call-ID (for logs)."""
        return self.request.call_id

    def respond(self, response: Response) -> None:
        """Send a response from the TU and move the state machine."""
        if self.state in (State.COMPLETED, State.CONFIRMED, State.TERMINATED):
            log.debug("%s: response %d after the final one", self.call_id, response.status)
            return
        final = response.status >= 200
        if self.state is State.ACCEPTED and not (200 <= response.status < 300):
            return  # RFC 6026 §8.5: only 2xx retransmissions pass in Accepted
        self.last_response = response
        self._last_bytes = response.to_bytes()
        self._send(self._last_bytes)
        if not final:
            if self.state is State.TRYING:
                self.state = State.PROCEEDING
            return
        t = self.layer.timers
        if self.invite:
            if response.status < 300:
                if self.state is not State.ACCEPTED:
                    self.state = State.ACCEPTED
                    self._later(t.b, self._terminate)  # Timer L (RFC 6026)
                return
            self.state = State.COMPLETED
            if not self.received.reliable:
                self._later(self._g_interval, self._timer_g)
            self._later(t.b, self._timer_h)
        else:
            self.state = State.COMPLETED
            self._later(0.0 if self.received.reliable else t.b, self._terminate)  # Timer J

    def respond_statelessly(self, response: Response) -> None:
        """Answer once and forget the transaction, as Kamailio's ``sl_send_reply``: no 100, no
        retransmission, no state; a retransmitted request is answered again, once."""
        if self.state is not State.TERMINATED and self.last_response is None:
            self.last_response = response
            self._send(response.to_bytes())
        self._terminate()

    def _send(self, data: bytes) -> None:
        try:
            self.layer.transport.send_response(data, self.via, self.received)
        except TransportError as exc:
            log.info("%s: cannot send response: %s", self.call_id, exc)
            self._terminate()

    def _later(self, delay: float, callback: Callable[[], None]) -> None:
        self._timers.append(self.layer.clock.call_later(delay, callback))

    def _timer_g(self) -> None:
        if self.state is not State.COMPLETED or self._last_bytes is None:
            return
        self._send(self._last_bytes)
        self._g_interval = min(2 * self._g_interval, self.layer.timers.t2)
        self._later(self._g_interval, self._timer_g)

    def _timer_h(self) -> None:
        if self.state is State.COMPLETED:
            log.info("%s: no ACK for the final response (Timer H)", self.call_id)
            self._terminate()

    def retransmitted(self) -> None:
        """The same request arrived again: resend the last response (§17.2.1, §17.2.2)."""
        if self.state is State.ACCEPTED:
            return
        if self._last_bytes is not None:
            self._send(self._last_bytes)

    def acked(self, ack: Request) -> None:
        """An ACK for a non-2xx final response (§17.2.1)."""
        if self.state is State.COMPLETED:
            self.state = State.CONFIRMED
            self._later(0.0 if self.received.reliable else self.layer.timers.t4, self._terminate)
            if self.on_ack is not None:
                self.on_ack(ack)

    def _terminate(self) -> None:
        if self.state is State.TERMINATED:
            return
        self.state = State.TERMINATED
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        self.layer.forget_server(self)
