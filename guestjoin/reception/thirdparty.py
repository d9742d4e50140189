"""Third-party call control for a caller that does not do REFER (RFC 3725 §4.1).

The reception already has a dialog with the caller. It sends an INVITE without SDP to the far
end (the routed alias, located like any outbound call); the far end's 2xx carries its offer,
which the reception sends to the caller in a re-INVITE; the caller's answer goes to the far end
in the ACK. Media then flows between the caller and the far end; the reception stays in the
signalling to pass on a BYE from either side and each side's re-INVITE or UPDATE (``updates``:
a room's session refresh must reach the far end and come back answered).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from guestjoin.dns import DnsFailure
from guestjoin.reception import updates
from guestjoin.reception.transfer import (
    Dialog,
    ack_for,
    cancel_for,
    far_invite,
    in_dialog,
    uac_dialog,
)
from guestjoin.routing import RouteDecision
from guestjoin.sip import Request, Response, make_response
from guestjoin.sip.sdp import cap_bandwidth
from guestjoin.values import Target

if TYPE_CHECKING:
    from guestjoin.reception.leg import ReceptionLeg

log = logging.getLogger(__name__)

FAILOVER = frozenset({408, 503})  # try the next target (RFC 3263 §4.3)
ANSWER_WAIT = 60.0  # a far end ringing longer than this is given up (CANCEL)


def _ignore(_value: object) -> None:
    """For fire-and-forget requests (the CANCEL)."""


class ThirdParty:
    """The far-end dialog of a 3pcc transfer."""

    def __init__(self, leg: ReceptionLeg, alias: str, decision: RouteDecision) -> None:
        self.leg = leg
        self.alias = alias
        self.decision = decision
        self.call_id = f"{secrets.token_hex(10)}-3pcc"
        self.tag = secrets.token_hex(6)
        self.far: Dialog | None = None
        self.far_target: Target | None = None
        self.ack: Request | None = None
        self.target_text = ""
        self.contact = ""
        self.connected = False  # the caller and the far end have exchanged descriptions
        self.updating = False  # an update is on its way to the other side
        self.caller_sdp = b""  # each side's current session description
        self.far_sdp = b""

    async def _send(
        self, request: Request, target: Target, ack: Request | None = None
    ) -> Response | str:
        """The final response to ``request``, or why there is none; a retransmitted 2xx to an
        INVITE is ACKed again with ``ack`` (default: the transfer's own ACK)."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[Response | str] = loop.create_future()

        def answered(response: Response) -> None:
            if response.status >= 200 and not done.done():
                done.set_result(response)
            elif 200 <= response.status < 300 and (again := ack or self.ack) is not None:
                self.leg.host.send_ack(again, target)  # 2xx retransmitted: ACK again

        def failed(why: str) -> None:
            if not done.done():
                done.set_result(why)

        self.leg.host.send_request(request, target, answered, failed)
        try:
            return await asyncio.wait_for(asyncio.shield(done), ANSWER_WAIT)
        except TimeoutError:
            if request.method == "INVITE":  # §9.1: stop it ringing
                self.leg.host.send_request(cancel_for(request), target, _ignore, _ignore)
            return f"no answer within {ANSWER_WAIT:.0f} s"

    async def connect(self) -> None:
        """Do the 3pcc transfer for the leg: on success the reception's media stops (it flows
        between the caller and the far end now); on failure the caller hears so."""
        leg = self.leg
        leg.detail = replace(leg.detail, transfer_method="3pcc")
        leg.thirdparty = self
        leg.host.track(self.call_id, leg)
        error = await self.run()
        if error is not None:
            leg.thirdparty = None
            leg.unreachable(error)
            return
        await leg.media.close()
        leg.detail = replace(leg.detail, target=self.target_text)
        leg.host.record(leg.detail)

    async def run(self) -> str | None:
        """Connect the caller to the far end; None when done, else why not."""
        host = self.leg.host
        try:
            targets = list(await host.targets(self.decision))
        except DnsFailure as exc:
            return f"DNS: {exc}"
        if not targets:
            return f"no target for {self.decision.destination}"
        far_ok: Response | None = None
        invite: Request | None = None
        for target in targets:
            local = host.local(target.transport, target.host)
            self.contact = f"sip:reception-{self.leg.tag}@{local[0]}:{local[1]}"
            invite = far_invite(
                call_id=self.call_id,
                target_uri=self.decision.destination,
                alias=self.alias,
                caller=self.leg.invite.from_,
                local_tag=self.tag,
                contact=f"{self.contact};transport={target.transport}",
                via=self.leg.via(),
                display=self.leg.detail.endpoint_name or self.leg.detail.caller_name,
            )
            result = await self._send(invite, target)
            if isinstance(result, Response) and 200 <= result.status < 300:
                far_ok, self.far_target = result, target
                break
            why = result if isinstance(result, str) else f"{result.status} {result.reason}"
            log.info("%s: 3pcc INVITE to %s: %s", self.call_id, target.host, why)
            if isinstance(result, Response) and result.status not in FAILOVER:
                return f"the far end answered {why}"
        if far_ok is None or invite is None or self.far_target is None:
            return "no far end answered"
        self.target_text = (
            f"{self.far_target.transport}:{self.far_target.host}:{self.far_target.port}"
        )
        self.far = uac_dialog(invite, far_ok)
        leg = self.leg
        leg.dialog, cseq = leg.dialog.next()
        reinvite = in_dialog(
            leg.dialog, "INVITE", cseq, leg.via(), body=far_ok.body, content_type="application/sdp"
        )
        answer = await self._send(reinvite, leg.peer)
        if not isinstance(answer, Response) or not 200 <= answer.status < 300:
            self.ack = ack_for(self.far, invite.cseq.number, leg.via())
            host.send_ack(self.ack, self.far_target)
            self.hang_up_far()
            why = answer if isinstance(answer, str) else str(answer.status)
            return f"the caller refused the re-INVITE: {why}"
        host.send_ack(ack_for(leg.dialog, cseq, leg.via()), leg.peer)
        capped = cap_bandwidth(answer.body, host.outbound_kbps())  # the outbound leg's cap
        self.ack = ack_for(self.far, invite.cseq.number, leg.via(), body=capped)
        host.send_ack(self.ack, self.far_target)
        self.caller_sdp, self.far_sdp, self.connected = answer.body, far_ok.body, True
        return None

    def relay(self, request: Request, respond: updates.Respond, *, from_caller: bool) -> None:
        """A re-INVITE or UPDATE from one side, sent on to the other once connected."""
        if not self.connected or self.updating:
            respond(make_response(request, 491))
            return
        if self.far is None or self.far_target is None:
            respond(make_response(request, 481))
            return
        if request.method == "INVITE" and not request.body:  # we offer the other side's
            other = self.far_sdp if from_caller else self.caller_sdp
            if not from_caller:  # towards the far end: capped like every outbound description
                other = cap_bandwidth(other, self.leg.host.outbound_kbps())
            updates.answer(self.leg, request, 200, other, respond)
            return
        self.updating = True
        self.leg.spawn(self._relay(request, respond, from_caller))

    async def _relay(self, request: Request, respond: updates.Respond, from_caller: bool) -> None:
        leg, host = self.leg, self.leg.host
        try:
            if from_caller:
                if self.far is None or self.far_target is None:  # hung up meanwhile
                    respond(make_response(request, 481))
                    return
                self.far, cseq = self.far.next()
                dialog, target = self.far, self.far_target
            else:
                leg.dialog, cseq = leg.dialog.next()
                dialog, target = leg.dialog, leg.peer
            body = request.body
            if from_caller and body:
                body = cap_bandwidth(body, host.outbound_kbps())
            kind = "application/sdp" if body else ""
            out = in_dialog(dialog, request.method, cseq, leg.via(), body=body, content_type=kind)
            ack = ack_for(dialog, cseq, leg.via()) if request.method == "INVITE" else None
            result = await self._send(out, target, ack)
            if isinstance(result, str):
                log.info("%s: %s not answered: %s", request.call_id, request.method, result)
                respond(make_response(request, 408))
                return
            if ack is not None and 200 <= result.status < 300:
                host.send_ack(ack, target)
            back = b""
            if 200 <= result.status < 300:
                mine, theirs = request.body, result.body
                if from_caller:
                    self.caller_sdp, self.far_sdp = mine or self.caller_sdp, theirs or self.far_sdp
                else:
                    self.far_sdp, self.caller_sdp = mine or self.far_sdp, theirs or self.caller_sdp
                    theirs = cap_bandwidth(theirs, host.outbound_kbps()) if theirs else b""
                back = theirs
            updates.answer(leg, request, result.status, back, respond)
        finally:
            self.updating = False

    def on_far_request(self, request: Request, respond: Callable[[Response], None]) -> None:
        """A request from the far end within its dialog."""
        if request.method == "BYE":
            respond(make_response(request, 200))
            self.far = None
            self.leg.bye("completed", "the far end hung up")
        elif request.method in ("OPTIONS", "INFO", "NOTIFY"):
            respond(make_response(request, 200))
        elif request.method in updates.METHODS:
            self.relay(request, respond, from_caller=False)
        else:
            respond(make_response(request, 501))

    def hang_up_far(self) -> None:
        """BYE the far end (the caller hung up, or the re-INVITE failed)."""
        if self.far is None or self.far_target is None:
            return
        self.far, cseq = self.far.next()
        bye = in_dialog(self.far, "BYE", cseq, self.leg.via())
        self.leg.host.send_request(bye, self.far_target, lambda _r: None, lambda _e: None)
        self.far = None
