"""The core's extension points: an SDP step sees every SDP body with its context, and a local
application answers calls routed to it without any forwarding."""

from __future__ import annotations

from guestjoin import cdr
from guestjoin.core import Call, Outbox, SdpContext, ServerRef
from guestjoin.routing import RouteDecision
from guestjoin.sip import Request
from guestjoin.values import Received
from tests.unit.gateway.core.harness import SDP, Harness, in_dialog, invite


def test_sdp_steps_see_offer_and_answer_with_their_direction() -> None:
    h = Harness()
    seen: list[tuple[str, bool, str]] = []

    def relay(context: SdpContext, body: bytes) -> bytes:
        seen.append((context.kind, context.toward_caller, context.method))
        return body.replace(b"c=IN IP4 198.51.100.7", b"c=IN IP4 192.0.2.10")

    h.core.build.sdp_steps.append(relay)
    server = h.send(invite())
    assert server is not None
    [out] = h.far
    assert b"c=IN IP4 192.0.2.10" in out.request.body
    h.respond(out, 200, body=SDP)
    answer = server.final
    assert answer is not None
    assert b"c=IN IP4 192.0.2.10" in answer.body
    h.send(
        in_dialog("INVITE", answer=answer, from_caller=True, branch="z9hG4bK-re", cseq=2, body=SDP)
    )
    assert seen == [
        ("invite", False, "INVITE"),
        ("answer", True, "INVITE"),
        ("in-dialog", False, "INVITE"),
    ]


class Reception:
    """A local application answering calls to one alias itself (B2BUA-like)."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.dialog_requests: list[str] = []

    def claims(self, decision: RouteDecision, request: Request) -> bool:
        return decision.alias.startswith("abc-defg-hij")

    def start(self, call: Call) -> None:
        self.calls.append(call)
        build = call.env.build
        ok = build.local_response(call.request, 200, headers=(("Contact", "<sip:192.0.2.10>"),))
        call.env.fx.respond(call.server, ok)
        call.update(answer_at=call.detail.invite_at, final_code=200, detail="answered locally")

    def in_dialog(
        self, request: Request, received: Received, server: ServerRef | None, fx: Outbox
    ) -> bool:
        mine = [c for c in self.calls if c.call_id == request.call_id]
        if not mine:
            return False
        self.dialog_requests.append(request.method)
        if request.method == "BYE" and server is not None:
            fx.respond(server, mine[0].env.build.local_response(request, 200))
            mine[0].end(cause=cdr.COMPLETED, detail="caller hung up")
        return True


def test_a_local_application_answers_calls_it_claims() -> None:
    h = Harness()
    reception = Reception()
    h.core.applications.append(reception)
    server = h.send(invite())
    assert server is not None
    assert server.statuses == [100, 200]
    assert h.far == []  # nothing forwarded
    assert h.core.licences.in_use == 2
    answer = server.final
    assert answer is not None
    bye = (
        f"BYE sip:192.0.2.10 SIP/2.0\r\nVia: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bK-b\r\n"
        f"Max-Forwards: 70\r\nFrom: {answer.get('From')}\r\nTo: {answer.get('To')}\r\n"
        f"Call-ID: call-1\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n"
    ).encode()
    done = h.send(bye)
    assert done is not None
    assert done.statuses == [200]
    assert reception.dialog_requests == ["BYE"]
    assert h.cdr("call-1").cause == cdr.COMPLETED
    assert h.core.licences.in_use == 0
