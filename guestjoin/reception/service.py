"""The Virtual Receptions inside the proxy: which calls they answer, and their SIP plumbing.

``ReceptionService`` implements ``ReceptionHost`` on the proxy's transaction layer, transport,
resolver, registrar and recorder, and owns the live reception legs by Call-ID. The proxy asks
it twice: ``answer`` for an admitted initial INVITE (true when a reception alias matched), and
``dispatch`` for every other request (true when it belonged to a reception leg).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from guestjoin.cdr import CallDetail
from guestjoin.dns import DnsFailure
from guestjoin.reception.aliases import find_reception
from guestjoin.reception.calendar import Calendar
from guestjoin.reception.leg import ReceptionLeg
from guestjoin.reception.machine import CalendarOffer
from guestjoin.routing import CallContext, RouteDecision, route_call
from guestjoin.sip import Request, Response, make_response
from guestjoin.sip.uri import SipUri, UriError, parse_uri
from guestjoin.transaction import ClientTransaction, ServerTransaction
from guestjoin.transport import Received, Target, TransportError

if TYPE_CHECKING:
    from guestjoin.proxy import Proxy

log = logging.getLogger(__name__)


class ReceptionService:
    """Reception legs of one proxy, and the host services they use."""

    def __init__(self, proxy: Proxy, calendar: Calendar | None = None) -> None:
        self.proxy = proxy
        self.calendar = calendar
        self.legs: dict[str, ReceptionLeg] = {}
        self._licence: dict[str, str] = {}  # Call-ID of the caller → licence key

    # --- called by the proxy ------------------------------------------------------------------
    def answer(
        self,
        request: Request,
        received: Received,
        st: ServerTransaction,
        detail: CallDetail,
        room: str,
    ) -> bool:
        """Answer an admitted initial INVITE when it dials a reception alias."""
        config = self.proxy.config()
        reception = find_reception(config.receptions, request.uri)
        if reception is None:
            return False
        if not self.proxy.licences.acquire(detail.key):
            st.respond(make_response(request, 503, "Call Licence Limit Reached"))
            return True
        st.respond(make_response(request, 100))
        leg = ReceptionLeg(
            host=self,
            reception=reception,
            invite=request,
            received=received,
            respond=st.respond,
            detail=detail,
            room=room,
        )
        self.legs[request.call_id] = leg
        self._licence[request.call_id] = detail.key
        task = asyncio.get_running_loop().create_task(leg.start())
        task.add_done_callback(_log_failure)
        return True

    def dispatch(self, request: Request, st: ServerTransaction | None) -> bool:
        """Hand a request of a reception dialog to its leg (ACKs come without a transaction)."""
        leg = self.legs.get(request.call_id)
        if leg is None:
            return False
        if request.method == "ACK":
            leg.on_ack(request)
            return True
        if st is None:
            return True
        if request.method == "CANCEL":
            st.respond(make_response(request, 200))  # the INVITE was answered at once
            return True
        leg.on_request(request, st.respond)
        return True

    # --- ReceptionHost ------------------------------------------------------------------------
    def send_request(
        self,
        request: Request,
        target: Target,
        on_response: Callable[[Response], None],
        on_failure: Callable[[str], None],
    ) -> None:
        """A client transaction on the proxy's transaction layer."""

        def response(_ct: ClientTransaction, message: Response) -> None:
            on_response(message)

        def failure(_ct: ClientTransaction, why: str) -> None:
            on_failure(why)

        self.proxy.transactions.start_client(request, target, response, failure)

    def send_ack(self, ack: Request, target: Target) -> None:
        """An ACK for a 2xx, sent on its own."""
        data = ack.to_bytes()
        try:
            if target.transport == "udp":
                self.proxy.transport.send_datagram(data, target.host, target.port)
                return
        except TransportError as exc:
            log.info("%s: ACK not sent: %s", ack.call_id, exc)
            return
        task = asyncio.get_running_loop().create_task(self.proxy.transport.send(data, target))
        task.add_done_callback(_log_failure)

    def local(self, transport: str, toward: str) -> tuple[str, int]:
        """The listener's address for ``transport`` toward ``toward``."""
        return self.proxy.transport.local_host(transport, toward)

    def route(self, alias: str) -> RouteDecision | None:
        """The call routing rules' decision for ``alias``."""
        return route_call(self.proxy.config().rules, CallContext(uri=f"sip:{alias}")).decision

    async def targets(self, decision: RouteDecision) -> Sequence[Target]:
        """Registered device bindings, the rule's configured proxy, or RFC 3263 DNS."""
        if decision.registered_device:
            user = decision.destination.partition(":")[2].partition("@")[0]
            return [
                Target(transport=b.transport, host=b.source[0], port=b.source[1])
                for b in self.proxy.registrar.bindings(user)
            ]
        uri: SipUri
        if decision.proxy:
            proxy = self.proxy.config().proxy(decision.proxy)
            if proxy is None:
                return []
            uri = SipUri(
                host=proxy.address, port=proxy.port, params=(("transport", proxy.transport),)
            )
        else:
            try:
                uri = parse_uri(decision.destination)
            except UriError as exc:
                raise DnsFailure(
                    f"unusable destination {decision.destination}: {exc}", not_found=True
                ) from exc
        return await self.proxy.resolver.resolve(uri)

    def record(self, detail: CallDetail) -> None:
        """Through the proxy's recorder."""
        self.proxy.record(detail)

    async def calendar_offer(self, room: str) -> CalendarOffer | None:
        """The room's meeting from the store, read on a worker thread."""
        calendar = self.calendar
        if calendar is None:
            return None
        now = datetime.now(UTC)
        return await asyncio.get_running_loop().run_in_executor(None, calendar.offer, room, now)

    def track(self, call_id: str, leg: object) -> None:
        """Requests with ``call_id`` go to ``leg`` (the far-end dialog of a 3pcc transfer)."""
        assert isinstance(leg, ReceptionLeg)
        self.legs[call_id] = leg

    def ended(self, call_ids: tuple[str, ...]) -> None:
        """Forget the leg and release its licence."""
        for call_id in call_ids:
            self.legs.pop(call_id, None)
            key = self._licence.pop(call_id, None)
            if key is not None:
                self.proxy.licences.release(key)


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("reception task failed", exc_info=task.exception())
