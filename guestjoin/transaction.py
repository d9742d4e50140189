"""Client and server transactions (RFC 3261 §17, RFC 6026 Accepted state), timers on a Clock.

The layer sits between the transports and one transaction user (the proxy core): it matches
responses to client transactions (§17.1.3), retransmitted requests and ACKs to server
transactions (§17.2.3), retransmits over UDP and fires the timeouts.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Protocol

from guestjoin.clock import Clock, TimerHandle
from guestjoin.sip.headers import Via, parse_cseq
from guestjoin.sip.message import Message, Request, Response
from guestjoin.sip.uri import UriError
from guestjoin.transport.interfaces import Sender, TransportError
from guestjoin.values import Received, Target

log = logging.getLogger(__name__)

MAGIC = "z9hG4bK"


@dataclass(frozen=True, kw_only=True, slots=True)
class Timers:
    """RFC 3261 §17.1.1.1 and Table 4 values (seconds)."""

    t1: float = 0.5
    t2: float = 4.0
    t4: float = 5.0

    @property
    def b(self) -> float:
        """Timer B/F/H/J: 64*T1."""
        return 64 * self.t1


class State(Enum):
    """Transaction states of §17 (plus RFC 6026 Accepted)."""

    CALLING = "calling"
    TRYING = "trying"
    PROCEEDING = "proceeding"
    ACCEPTED = "accepted"
    COMPLETED = "completed"
    CONFIRMED = "confirmed"
    TERMINATED = "terminated"


class TransactionUser(Protocol):
    """The element above the transaction layer (the proxy core)."""

    def on_request(
        self, request: Request, received: Received, st: ServerTransaction | None
    ) -> None:
        """A new request (``st`` is None for an ACK that matched no transaction)."""

    def on_stray_response(self, response: Response, received: Received) -> None:
        """A response that matched no client transaction (e.g. a retransmitted 2xx)."""


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
        self.on_cancelled: Callable[[], None] | None = None
        self.on_terminated: Callable[[], None] | None = None

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
        if self.on_terminated is not None:
            self.on_terminated()


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


class TransactionLayer:
    """Matches messages to transactions and owns their tables."""

    def __init__(self, transport: Sender, clock: Clock, timers: Timers = Timers()) -> None:
        self.transport = transport
        self.clock = clock
        self.timers = timers
        self.user: TransactionUser | None = None
        self._servers: dict[tuple[str, ...], ServerTransaction] = {}
        self._clients: dict[tuple[str, str], ClientTransaction] = {}

    def handle(self, msg: Message, received: Received) -> None:
        """Entry point from the transport layer (its ``handler``)."""
        user = self.user
        assert user is not None, "no transaction user"
        if isinstance(msg, Response):
            self._handle_response(msg, received, user)
            return
        try:
            via = msg.top_via
            key = server_key(msg, via)
        except (UriError, ValueError) as exc:
            log.info("%s: unmatched request: %s", msg.call_id, exc)
            return
        st = self._servers.get(key)
        if msg.method == "ACK":
            if st is not None and st.invite:
                if st.state is State.ACCEPTED:
                    user.on_request(msg, received, None)  # ACK for 2xx, forwarded by the proxy
                else:
                    st.acked(msg)
                return
            user.on_request(msg, received, None)
            return
        if st is not None:
            st.retransmitted()
            return
        st = ServerTransaction(self, msg, received, key)
        self._servers[key] = st
        user.on_request(msg, received, st)

    def _handle_response(self, msg: Response, received: Received, user: TransactionUser) -> None:
        try:
            branch = msg.top_via.branch or ""
            method = parse_cseq(msg.get("CSeq") or "").method
        except (UriError, ValueError) as exc:
            log.info("%s: unmatched response: %s", msg.call_id, exc)
            return
        ct = self._clients.get((branch, method))
        if ct is None:
            user.on_stray_response(msg, received)
            return
        ct.receive(msg)

    def find_invite_server(self, cancel: Request) -> ServerTransaction | None:
        """The INVITE server transaction a CANCEL refers to (§9.2)."""
        try:
            via = cancel.top_via
        except (UriError, ValueError):
            return None
        key = server_key(cancel, via)
        return self._servers.get((*key[:-1], "INVITE"))

    def start_client(
        self,
        request: Request,
        target: Target,
        on_response: ResponseCallback,
        on_failure: FailureCallback,
    ) -> ClientTransaction:
        """Create and start a client transaction."""
        ct = ClientTransaction(self, request, target, on_response, on_failure)
        self._clients[ct.key] = ct
        ct.start()
        return ct

    def forget_server(self, st: ServerTransaction) -> None:
        """Remove a terminated server transaction."""
        if self._servers.get(st.key) is st:
            del self._servers[st.key]

    def forget_client(self, ct: ClientTransaction) -> None:
        """Remove a terminated client transaction."""
        if self._clients.get(ct.key) is ct:
            del self._clients[ct.key]

    @property
    def counts(self) -> tuple[int, int]:
        """(server, client) transactions alive."""
        return len(self._servers), len(self._clients)
