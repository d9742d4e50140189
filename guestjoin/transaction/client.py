"""Client transactions (RFC 3261 §17.1: INVITE §17.1.1 with its ACK for non-2xx, non-INVITE
§17.1.2, RFC 6026 Accepted): retransmissions over UDP, Timer B/F, transport failures."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from guestjoin.clock import TimerHandle
from guestjoin.sip.message import Request, Response
from guestjoin.transaction.timers import State
from guestjoin.transport.interfaces import TransportError
from guestjoin.values import Target

if TYPE_CHECKING:
    from guestjoin.transaction.layer import TransactionLayer

log = logging.getLogger(__name__)

ResponseCallback = Callable[["ClientTransaction", Response], None]
FailureCallback = Callable[["ClientTransaction", str], None]


class ClientTransaction:
    """An INVITE (§17.1.1) or non-INVITE (§17.1.2) client transaction."""

    def __init__(
        self,
        layer: TransactionLayer,
        request: Request,
        target: Target,
        on_response: ResponseCallback,
        on_failure: FailureCallback,
    ) -> None:
        self.layer = layer
        self.request = request
        self.target = target
        self.on_response = on_response
        self.on_failure = on_failure
        self.invite = request.method == "INVITE"
        self.state = State.CALLING if self.invite else State.TRYING
        via = request.top_via
        self.branch = via.branch or ""
        self.key = (self.branch, request.method)
        self._bytes = request.to_bytes()
        self._timers: list[TimerHandle] = []
        self._interval = layer.timers.t1
        self._timeout: TimerHandle | None = None
        self._ack: bytes | None = None

    @property
    def call_id(self) -> str:
        """The request's Call-ID (for logs)."""
        return self.request.call_id

    def start(self) -> None:
        """Send the request and arm Timer A/E and B/F."""
        t = self.layer.timers
        self._timeout = self.layer.clock.call_later(t.b, self._timer_b)
        self._timers.append(self._timeout)
        if self.target.transport == "udp":
            try:
                self.layer.transport.send_datagram(self._bytes, self.target.host, self.target.port)
            except TransportError as exc:
                self._fail(f"transport error: {exc}")
                return
            self._later(self._interval, self._retransmit)
        else:
            task = asyncio.get_running_loop().create_task(
                self.layer.transport.send(self._bytes, self.target)
            )
            task.add_done_callback(self._sent)

    def _sent(self, task: asyncio.Task[None]) -> None:
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None and self.state in (State.CALLING, State.TRYING):
            self._fail(f"transport error: {exc}")

    def _later(self, delay: float, callback: Callable[[], None]) -> None:
        self._timers.append(self.layer.clock.call_later(delay, callback))

    def _retransmit(self) -> None:
        """Timer A (§17.1.1.2) / Timer E (§17.1.2.2)."""
        active = (
            self.state is State.CALLING
            if self.invite
            else self.state in (State.TRYING, State.PROCEEDING)
        )
        if not active:
            return
        try:
            self.layer.transport.send_datagram(self._bytes, self.target.host, self.target.port)
        except TransportError as exc:
            self._fail(f"transport error: {exc}")
            return
        t = self.layer.timers
        if self.invite:
            self._interval *= 2
        elif self.state is State.PROCEEDING:
            self._interval = t.t2
        else:
            self._interval = min(2 * self._interval, t.t2)
        self._later(self._interval, self._retransmit)

    def _timer_b(self) -> None:
        # Timer B only matters in Calling: a proceeding INVITE is governed by the proxy's
        # Timer C (§16.6 step 11); Timer F covers Trying and Proceeding (§17.1.2.2).
        if self.invite:
            expired = self.state is State.CALLING
        else:
            expired = self.state in (State.TRYING, State.PROCEEDING)
        if expired:
            self._fail("timeout")

    def _fail(self, reason: str) -> None:
        if self.state is State.TERMINATED:
            return
        on_failure = self.on_failure
        self._terminate()
        on_failure(self, reason)

    def receive(self, response: Response) -> None:
        """A response matched this transaction."""
        status = response.status
        if self.state is State.TERMINATED:
            return
        if self.state is State.COMPLETED:
            if self.invite and status >= 300 and self._ack is not None:
                self._send_ack()  # retransmitted final response (§17.1.1.2)
            return
        if self.state is State.ACCEPTED:
            if 200 <= status < 300:
                self.on_response(self, response)  # RFC 6026 §7.2: 2xx retransmissions go up
            return
        if status < 200:
            if self.state in (State.CALLING, State.TRYING):
                self.state = State.PROCEEDING
            self.on_response(self, response)
            return
        if self.invite:
            if status < 300:
                # RFC 6026 §7.2: Accepted until Timer M; 2xx retransmissions (and 2xx of other
                # forks) reach the transaction user through this transaction, nothing else does
                self.state = State.ACCEPTED
                self._cancel_timers()
                self._later(self.layer.timers.b, self._terminate)  # Timer M
                self.on_response(self, response)
                return
            self._ack = self._build_ack(response).to_bytes()
            self._send_ack()
            self.state = State.COMPLETED
            self._cancel_timers()
            self._later(0.0 if self.target.reliable else 32.0, self._terminate)  # Timer D
            self.on_response(self, response)
            return
        self.state = State.COMPLETED
        self._cancel_timers()
        self._later(0.0 if self.target.reliable else self.layer.timers.t4, self._terminate)
        self.on_response(self, response)

    def _build_ack(self, response: Response) -> Request:
        """The ACK for a non-2xx final response (§17.1.1.3)."""
        req = self.request
        headers: list[tuple[str, str]] = [("Via", req.first_value("Via") or "")]
        for key, value in req.headers:
            if key in ("From", "Call-ID", "Route", "Max-Forwards"):
                headers.append((key, value))
        headers.append(("To", response.get("To") or req.get("To") or ""))
        headers.append(("CSeq", f"{req.cseq.number} ACK"))
        return Request(method="ACK", uri=req.uri, headers=tuple(headers))

    def _send_ack(self) -> None:
        if self._ack is None:
            return
        if self.target.transport == "udp":
            try:
                self.layer.transport.send_datagram(self._ack, self.target.host, self.target.port)
            except TransportError as exc:
                log.info("%s: cannot send ACK: %s", self.call_id, exc)
        else:
            task = asyncio.get_running_loop().create_task(
                self.layer.transport.send(self._ack, self.target)
            )
            task.add_done_callback(_quiet)

    def _cancel_timers(self) -> None:
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        self._timeout = None

    def _terminate(self) -> None:
        if self.state is State.TERMINATED:
            return
        self.state = State.TERMINATED
        self._cancel_timers()
        self.layer.forget_client(self)
        # the user's callbacks usually refer back to this transaction: dropping them frees the
        # whole call by reference counting, with no wait for the cyclic garbage collector
        self.on_response = _ignore_response
        self.on_failure = _ignore_failure

    def abandon(self) -> None:
        """Stop retransmitting and forget the transaction (used after CANCEL + Timer C)."""
        self._terminate()


def _ignore_response(_ct: ClientTransaction, _response: Response) -> None:
    """A terminated transaction's response callback."""


def _ignore_failure(_ct: ClientTransaction, _reason: str) -> None:
    """A terminated transaction's failure callback."""


def _quiet(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.info("ACK not delivered: %s", task.exception())
