"""What a reception call needs from the gateway it runs in (the proxy core implements it)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from guestjoin.cdr import CallRecord
from guestjoin.reception.machine import CalendarOffer
from guestjoin.routing import RouteDecision
from guestjoin.sip import Request, Response
from guestjoin.values import Target


class ReceptionHost(Protocol):
    """Transactions, routing, DNS, CDRs and the calendar, as the gateway provides them."""

    def send_request(
        self,
        request: Request,
        target: Target,
        on_response: Callable[[Response], None],
        on_failure: Callable[[str], None],
    ) -> None:
        """Send a request in a client transaction (RFC 3261 §17.1)."""

    def send_ack(self, ack: Request, target: Target) -> None:
        """Send the ACK of a 2xx (§13.2.2.4: not part of any transaction)."""

    def local(self, transport: str, toward: str) -> tuple[str, int]:
        """Our address for Via and Contact on ``transport`` toward ``toward``."""

    def route(self, alias: str) -> RouteDecision | None:
        """The call routing rules' decision for ``alias`` (None: no rule matches)."""

    async def targets(self, decision: RouteDecision) -> Sequence[Target]:
        """Where a routed call goes (configured proxy, registered device or RFC 3263 DNS)."""

    def outbound_kbps(self) -> int:
        """The cap on an outbound leg's SDP bandwidth (``gateway.max_outbound_kbps``)."""

    def record(self, detail: CallRecord) -> None:
        """Store the call's record."""

    async def calendar_offer(self, room: str) -> CalendarOffer | None:
        """The room's meeting to offer on ``#`` now (None: none, or no store)."""

    def track(self, call_id: str, leg: object) -> None:
        """Requests with ``call_id`` belong to ``leg`` from now on."""

    def finish(self, call_ids: tuple[str, ...], detail: CallRecord) -> None:
        """The reception call is over (``detail`` has its cause): record it, release its
        licences, forget its Call-IDs."""
