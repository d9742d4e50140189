"""The Virtual Receptions as a local application of the proxy core (``guestjoin.core``).

``ReceptionService`` is a ``LocalApplication``: it decides on reception aliases before the call
routing rules (``decide``), takes the admitted call (licences held, 100 Trying sent) and hands
it to a ``ReceptionLeg`` (``start``), and receives the requests of its dialogs (``in_dialog``).
It is also the legs' ``ReceptionHost``: their responses, client transactions and ACKs become
the core's actions (``Outbox``), carried out at once by the asyncio driver (``Proxy.run``);
their CDR changes and their end go through the core's ``Call`` (which gives the licences back).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from guestjoin.cdr import CallRecord
from guestjoin.core import Call, ClientRef, Outbox, ServerRef
from guestjoin.dns import DnsFailure
from guestjoin.reception.aliases import find_reception
from guestjoin.reception.calendar import Calendar
from guestjoin.reception.leg import ReceptionLeg
from guestjoin.reception.machine import CalendarOffer
from guestjoin.routing import CallContext, RouteDecision, alias_of, route_call
from guestjoin.sip import Request, Response
from guestjoin.sip.uri import SipUri, UriError, parse_uri
from guestjoin.values import Received, Target

if TYPE_CHECKING:
    from guestjoin.proxy import Proxy

log = logging.getLogger(__name__)


class ReceptionService:
    """The reception legs of one proxy, and the host services they use."""

    def __init__(self, proxy: Proxy, calendar: Calendar | None = None) -> None:
        self.proxy = proxy
        self.calendar = calendar
        self.legs: dict[str, ReceptionLeg] = {}  # by Call-ID (the caller's, a 3pcc far end's)
        self.calls: dict[ReceptionLeg, Call] = {}
        proxy.core.applications.append(self)

    @property
    def fx(self) -> Outbox:
        """The core's outbox."""
        return self.proxy.core.fx

    def flush(self) -> None:
        """Carry out what the legs queued outside a core event."""
        self.proxy.run(self.fx.take())

    # --- LocalApplication ---------------------------------------------------------------------
    def decide(self, request: Request) -> RouteDecision | None:
        """Reception aliases are answered here, whatever the call routing rules say."""
        reception = find_reception(self.proxy.core.config().receptions, request.uri)
        if reception is None:
            return None
        return RouteDecision(rule="", destination=request.uri, alias=alias_of(request.uri))

    def claims(self, decision: RouteDecision, request: Request) -> bool:
        """The decisions ``decide`` made."""
        return decision.rule == "" and self.decide(request) is not None

    def start(self, call: Call) -> None:
        """Hand the admitted call to a new leg."""
        config = self.proxy.core.config()
        reception = find_reception(config.receptions, call.request.uri)
        assert reception is not None
        endpoint = next((e for e in config.endpoints if e.name == call.detail.endpoint_name), None)
        server = call.server

        def respond(response: Response) -> None:
            self.fx.respond(server, response)
            self.flush()

        leg = ReceptionLeg(
            host=self,
            reception=reception,
            invite=call.request,
            received=call.received,
            respond=respond,
            detail=call.detail,
            room=endpoint.room_resource_email if endpoint is not None else "",
            cancelled=lambda: call.cancelled,
        )
        self.legs[call.call_id] = leg
        self.calls[leg] = call
        task = asyncio.get_running_loop().create_task(leg.start())
        task.add_done_callback(_log_failure)

    def in_dialog(
        self, request: Request, received: Received, server: ServerRef | None, fx: Outbox
    ) -> bool:
        """A request of a reception dialog (``server`` None: an ACK)."""
        leg = self.legs.get(request.call_id)
        if leg is None:
            return False
        if request.method == "ACK":
            leg.on_ack(request)
        elif server is not None:

            def respond(response: Response) -> None:  # now, or later for a relayed update
                fx.respond(server, response)
                self.flush()

            leg.on_request(request, respond)
        return True

    # --- ReceptionHost ------------------------------------------------------------------------
    def send_request(
        self,
        request: Request,
        target: Target,
        on_response: Callable[[Response], None],
        on_failure: Callable[[str], None],
    ) -> None:
        """A client transaction, started by the driver."""

        def response(_client: ClientRef, message: Response) -> None:
            on_response(message)

        def failure(_client: ClientRef, why: str) -> None:
            on_failure(why)

        self.fx.start_client(request, target, response, failure)
        self.flush()

    def send_ack(self, ack: Request, target: Target) -> None:
        """An ACK for a 2xx, sent on its own (§13.2.2.4)."""
        self.fx.add_send(ack, target)
        self.flush()

    def local(self, transport: str, toward: str) -> tuple[str, int]:
        """The listener's address for ``transport`` toward ``toward``."""
        return self.proxy.transport.local_host(transport, toward)

    def route(self, alias: str) -> RouteDecision | None:
        """The call routing rules' decision for ``alias``."""
        rules = self.proxy.core.config().rules
        return route_call(rules, CallContext(uri=f"sip:{alias}")).decision

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
            proxy = self.proxy.core.config().proxy(decision.proxy)
            if proxy is None:
                return []
            params = (("transport", proxy.transport),)
            uri = SipUri(host=proxy.address, port=proxy.port, params=params)
        else:
            try:
                uri = parse_uri(decision.destination)
            except UriError as exc:
                why = f"unusable destination {decision.destination}: {exc}"
                raise DnsFailure(why, not_found=True) from exc
        return await self.proxy.resolver.resolve(uri)

    def outbound_kbps(self) -> int:
        """``gateway.max_outbound_kbps``."""
        return self.proxy.core.config().settings.max_outbound_kbps

    def record(self, detail: CallRecord) -> None:
        """The leg's record becomes the call's, and is written."""
        leg = self.legs.get(detail.call_id)
        call = self.calls.get(leg) if leg is not None else None
        if call is None or call.ended:
            return
        call.detail = detail
        self.fx.record(detail)
        self.flush()

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

    def finish(self, call_ids: tuple[str, ...], detail: CallRecord) -> None:
        """End the call (its record, its licences) and forget the leg."""
        legs = {self.legs.pop(call_id, None) for call_id in call_ids}
        for leg in legs:
            call = self.calls.pop(leg, None) if leg is not None else None
            if call is None:
                continue
            call.detail = detail
            call.end(cause=detail.cause, code=detail.final_code, detail=detail.detail)
        self.flush()


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("reception task failed", exc_info=task.exception())
