"""The transaction layer (RFC 3261 §17): matches every message to its transaction (§17.1.3
responses by branch and method, §17.2.3 requests by branch, sent-by and method) and owns the
tables; what matches nothing goes to the transaction user."""

from __future__ import annotations

import logging
from typing import Protocol

from guestjoin.clock import Clock
from guestjoin.sip.headers import parse_cseq
from guestjoin.sip.message import Message, Request, Response
from guestjoin.sip.uri import UriError
from guestjoin.transaction.client import ClientTransaction, FailureCallback, ResponseCallback
from guestjoin.transaction.server import ServerTransaction, server_key
from guestjoin.transaction.timers import DEFAULT_TIMERS, State, Timers
from guestjoin.transport.interfaces import Sender
from guestjoin.values import Received, Target

log = logging.getLogger(__name__)


class TransactionUser(Protocol):
    """The element above the transaction layer (the proxy core)."""

    def on_request(
        self, request: Request, received: Received, st: ServerTransaction | None
    ) -> None:
        """A new request (``st`` is None for an ACK that matched no transaction)."""

    def on_stray_response(self, response: Response, received: Received) -> None:
        """A response that matched no client transaction (e.g. a retransmitted 2xx)."""


class TransactionLayer:
    """Matches messages to transactions and owns their tables."""

    def __init__(self, transport: Sender, clock: Clock, timers: Timers = DEFAULT_TIMERS) -> None:
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
