"""Building what the proxy sends: Via, Record-Route, forwarded requests and responses (§16.6).

``Locality`` is the one question the core asks about the machine (which addresses are ours);
the transport answers it, tests answer it with a fixed set of listeners.

Extension point, SDP: every body of type ``application/sdp`` leaving the proxy passes
``MessageBuilder.sdp`` — first the bandwidth cap, then each step of ``sdp_steps`` in order,
with an ``SdpContext`` saying which call, which message (initial INVITE, provisional or final
answer, in-dialog request or its answer, ACK) and in which direction. A step is synchronous
and must not block. The media relay (``media: relay``), which must wait for rtpengine, is not
a step: ``guestjoin.core.media`` rewrites the body first, through ``RelayMedia`` actions.
"""

from __future__ import annotations

import hashlib
import itertools
import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Protocol

from guestjoin.dialog_token import PARAM, dialog_token
from guestjoin.sip.message import Request, Response, make_response
from guestjoin.sip.sdp import cap_bandwidth
from guestjoin.values import UDP_MAX_REQUEST, Target, render_host

BRANCH_PREFIX = "z9hG4bK-otj"

# which message an SDP body travels in (SdpContext.kind)
INITIAL_OFFER = "invite"  # the initial INVITE toward the far end
ANSWER = "answer"  # a response to the initial INVITE (18x or 2xx) toward the caller
IN_DIALOG = "in-dialog"  # a re-INVITE/UPDATE/ACK/… inside the dialog, either way
IN_DIALOG_ANSWER = "in-dialog-answer"  # a response to an in-dialog request


class Locality(Protocol):
    """Which addresses are this gateway's (answered by the transport layer)."""

    def is_local(self, host: str, port: int | None, transport: str | None = None) -> bool:
        """Whether ``host:port`` names one of our listeners."""

    def local_host(self, transport: str, toward: str | None = None) -> tuple[str, int]:
        """The address to put in Via/Record-Route for ``transport`` toward ``toward``."""


@dataclass(frozen=True, kw_only=True, slots=True)
class SdpContext:
    """Where an SDP body is going: the call (CDR key, Call-ID), the message kind, direction."""

    call_key: str
    call_id: str
    kind: str
    toward_caller: bool
    method: str  # the request's method (of the request answered, for responses)


SdpStep = Callable[[SdpContext, bytes], bytes]


class MessageBuilder:
    """Stateless helpers around one HMAC secret, the dialog key and the listeners."""

    def __init__(
        self,
        locality: Locality,
        *,
        server_name: str,
        dialog_key: bytes,
        max_kbps: Callable[[], int],
    ) -> None:
        self.locality = locality
        self.server_name = server_name
        self.dialog_key = dialog_key
        self.secret = secrets.token_bytes(16)
        self.max_kbps = max_kbps
        self.sdp_steps: list[SdpStep] = []
        self._counter = itertools.count(1)

    # --- SDP ---------------------------------------------------------------------------------
    def sdp(self, body: bytes, context: SdpContext | None) -> bytes:
        """The bandwidth cap, then every registered step (see the module docstring)."""
        body = cap_bandwidth(body, self.max_kbps())
        if context is not None:
            for step in self.sdp_steps:
                body = step(context, body)
        return body

    def with_sdp(self, msg: Request, context: SdpContext | None) -> Request:
        """``msg`` with its SDP body (if any) rewritten."""
        if msg.body and msg.content_type == "application/sdp":
            return msg.with_body(self.sdp(msg.body, context))
        return msg

    # --- responses ---------------------------------------------------------------------------
    def local_response(
        self,
        request: Request,
        status: int,
        reason: str | None = None,
        headers: tuple[tuple[str, str], ...] = (),
    ) -> Response:
        """A response generated here (§16.7 / §8.2.6)."""
        return make_response(
            request,
            status,
            reason,
            to_tag=secrets.token_hex(5),
            headers=(*headers, ("Server", self.server_name)),
        )

    def stateless_response(
        self,
        request: Request,
        status: int,
        reason: str | None = None,
        headers: tuple[tuple[str, str], ...] = (),
    ) -> Response:
        """A refusal whose To tag is derived from the request, so a retransmission is
        answered alike with no state kept (Kamailio's ``sl_send_reply``)."""
        via = request.first_value("Via") or ""
        seed = "|".join((request.call_id, request.from_.tag or "", via))
        tag = hashlib.blake2s(seed.encode(), key=self.secret, digest_size=5).hexdigest()
        return make_response(
            request, status, reason, to_tag=tag, headers=(*headers, ("Server", self.server_name))
        )

    def trying(self, request: Request) -> Response:
        """100 Trying (§16.2): sent once a call is admitted."""
        return make_response(request, 100, headers=(("Server", self.server_name),))

    def upstream(self, response: Response, context: SdpContext | None) -> Response:
        """A downstream response as forwarded upstream: our Via removed, SDP rewritten."""
        out = response.remove_first_value("Via")
        if context is not None and out.body and out.content_type == "application/sdp":
            out = out.with_body(self.sdp(out.body, context))
        return out

    # --- requests ----------------------------------------------------------------------------
    def loop_hash(self, request: Request) -> str:
        """§16.6 step 8: a hash of the fields that identify the request as received."""
        text = "|".join(
            (
                request.uri,
                request.from_.tag or "",
                request.call_id,
                str(request.cseq.number),
                request.to.tag or "",
            )
        )
        return hashlib.blake2s(text.encode(), key=self.secret, digest_size=5).hexdigest()

    def branch(self, request: Request) -> str:
        """A new branch carrying the loop hash (§16.6 step 8)."""
        return f"{BRANCH_PREFIX}{self.loop_hash(request)}.{next(self._counter):x}"

    def via(self, transport: str, target_host: str, branch: str) -> str:
        """Our Via toward ``target_host``."""
        host, port = self.locality.local_host(transport, target_host)
        return f"SIP/2.0/{transport.upper()} {render_host(host)}:{port};branch={branch};rport"

    def record_route(self, transport: str, toward: str, token: str) -> str:
        """Our Record-Route entry with the dialog token."""
        host, port = self.locality.local_host(transport, toward)
        return f"<sip:{render_host(host)}:{port};transport={transport};lr;{PARAM}={token}>"

    def forward(self, request: Request, target: Target, context: SdpContext | None) -> Request:
        """An in-dialog request or ACK as forwarded: Max-Forwards less one, SDP, our Via."""
        mf = request.max_forwards
        out = request.set("Max-Forwards", str((mf if mf is not None else 70) - 1))
        out = self.with_sdp(out, context)
        return out.prepend("Via", self.via(target.transport, target.host, self.branch(request)))

    def stamp(
        self,
        req: Request,
        original: Request,
        inbound: tuple[str, str],
        caller_tag: str,
        target: Target,
    ) -> Request:
        """Add Record-Route (two when the legs differ, RFC 5658) and our Via."""
        token = dialog_token(self.dialog_key, original.call_id, caller_tag)
        rr_in = self.record_route(inbound[0], inbound[1], token)
        rr_out = self.record_route(target.transport, target.host, token)
        req = req.prepend("Record-Route", rr_in)
        if rr_out != rr_in:
            req = req.prepend("Record-Route", rr_out)
        return req.prepend("Via", self.via(target.transport, target.host, self.branch(original)))

    def outbound_invite(
        self,
        req: Request,
        original: Request,
        inbound: tuple[str, str],
        caller_tag: str,
        target: Target,
    ) -> tuple[Request, Target]:
        """Stamp the INVITE; over TCP when too big for UDP (§18.1.1)."""
        out = self.stamp(req, original, inbound, caller_tag, target)
        if target.transport == "udp" and len(out.to_bytes()) > UDP_MAX_REQUEST:
            target = replace(target, transport="tcp")
            out = self.stamp(req, original, inbound, caller_tag, target)
        return out, target

    def cancel_for(self, request: Request) -> Request:
        """CANCEL a pending client transaction (§9.1): same branch, Route, CSeq number."""
        headers: list[tuple[str, str]] = [("Via", request.first_value("Via") or "")]
        for key, value in request.headers:
            if key in ("From", "To", "Call-ID", "Route", "Max-Forwards"):
                headers.append((key, value))
        headers.append(("CSeq", f"{request.cseq.number} CANCEL"))
        return Request(method="CANCEL", uri=request.uri, headers=tuple(headers))
