"""In-dialog requests through the core: finding the call of a dialog (by its dialog token),
forwarding along the dialog's path (RFC 3261 §16.6, §12.2), ACKs for 2xx (§16.11, stateless)
and the BYE toward the far end of a call whose 2xx was never ACKed (§13.3.1.4)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from guestjoin.core import auth, indialog
from guestjoin.core.actions import DnsResult, ServerRef
from guestjoin.core.branch import Call, ignore
from guestjoin.core.checks import dialog_check, next_hop_uri, preprocess_route, validate
from guestjoin.core.indialog import InDialog
from guestjoin.core.media import UNAVAILABLE, has_sdp
from guestjoin.core.messages import IN_DIALOG
from guestjoin.dialog_token import token_valid
from guestjoin.sip.message import Request
from guestjoin.sip.uri import UriError
from guestjoin.teardown import bye_toward_callee
from guestjoin.values import Received, Target

if TYPE_CHECKING:
    from guestjoin.core.proxy import ProxyCore

log = logging.getLogger("guestjoin.proxy")


def find_call(core: ProxyCore, request: Request, tokens: tuple[str, ...]) -> Call | None:
    """The call of a request's dialog whose own token the request carries (two callers
    may share a Call-ID: one's token must not open the other's dialog)."""
    calls = core.calls.get(request.call_id)
    if not calls:
        return None
    tags = {request.from_.tag or "", request.to.tag or ""}
    key = core.build.dialog_key
    for call in reversed(calls):
        mine = (call.caller_tag,)
        if call.caller_tag in tags and all(token_valid(key, call.call_id, mine, t) for t in tokens):
            return call
    return None


def dialog_call(
    core: ProxyCore, request: Request, received: Received, tokens: tuple[str, ...]
) -> Call | tuple[int, str, str]:
    """The call an in-dialog request may travel in, or (status, reason, why) it may not."""
    problem = dialog_check(request, tokens, core.build.dialog_key)
    call = find_call(core, request, tokens) if problem is None else None
    if call is None:
        status, reason = problem or (481, "Call/Transaction Does Not Exist")
        return status, reason, f"{status} {reason}"
    from_caller = (request.from_.tag or "") == call.caller_tag
    why = indialog.refusal(request, call, received, from_caller)
    if why is not None:
        return 403, "Not Along The Dialog's Route", why
    return call


def in_dialog(
    core: ProxyCore,
    request: Request,
    received: Received,
    server: ServerRef,
    tokens: tuple[str, ...],
) -> None:
    found = dialog_call(core, request, received, tokens)
    if not isinstance(found, Call):
        status, reason, why = found
        source = received.remote[0]
        log.info("%s: %s from %s refused: %s", request.call_id, request.method, source, why)
        core.refuse(server, status, reason)
        return
    call = found
    from_caller = (request.from_.tag or "") == call.caller_tag
    call.path = call.path.with_target(request.get("Contact"), caller=from_caller)
    target = indialog.known_next_hop(request, call, toward_caller=not from_caller)
    if target is not None:
        forward_in_dialog(core, request, server, call, target, from_caller=from_caller)
        return

    def resolved(result: DnsResult) -> None:
        if isinstance(result, Exception):
            log.info("%s: cannot resolve the next hop: %s", request.call_id, result)
            status = 404 if getattr(result, "not_found", False) else 503
            core.fx.respond(server, core.build.local_response(server.request, status))
            return
        forward_in_dialog(core, request, server, call, result[0], from_caller=from_caller)

    resolve_next_hop(core, request, resolved)


def resolve_next_hop(core: ProxyCore, request: Request, then: Callable[[DnsResult], None]) -> None:
    try:
        uri = next_hop_uri(request)
    except UriError as exc:
        then(exc)
        return
    core.fx.resolve(uri, then)


def forward_in_dialog(
    core: ProxyCore,
    request: Request,
    server: ServerRef,
    call: Call,
    target: Target,
    *,
    from_caller: bool,
) -> None:
    """Forward statefully unless it would leave the dialog's path (then 403, stateless)."""
    if indialog.elsewhere(request, call, target, from_caller):
        core.refuse(server, 403, "Not Along The Dialog's Route")
        return
    media = call.media
    if media is not None and request.method in ("INVITE", "UPDATE") and has_sdp(request):

        def relayed(out: Request | None) -> None:
            if out is None:
                retry = (("Retry-After", "5"),)
                response = core.build.local_response(request, 503, UNAVAILABLE[1], retry)
                core.fx.respond(server, response)
            else:
                forward_now(core, out, server, call, target, from_caller=from_caller)

        media.in_dialog(call, request, from_caller=from_caller, then=relayed)
        return
    forward_now(core, request, server, call, target, from_caller=from_caller)


def forward_now(
    core: ProxyCore,
    request: Request,
    server: ServerRef,
    call: Call,
    target: Target,
    *,
    from_caller: bool,
) -> None:
    """Forward statefully (the path is checked, the SDP relayed already)."""
    context = None
    if request.body:
        context = call.sdp_context(IN_DIALOG, toward_caller=not from_caller, method=request.method)
    if from_caller:
        request = auth.toward_callee(call, request)
    out = core.build.forward(request, target, context)
    forward = InDialog(core, server, call, from_caller=from_caller)
    core.by_server[server.handle] = forward
    forward.forward(out, target)


def forward_ack(core: ProxyCore, ack: Request, received: Received) -> None:
    """An ACK for a 2xx is end-to-end: forward it statelessly along the route (§16.11)."""
    if validate(ack, core.build) is not None:
        return
    ack, tokens = preprocess_route(ack, core.build.locality)
    for app in core.applications:
        if app.in_dialog(ack, received, None, core.fx):
            return
    call = dialog_call(core, ack, received, tokens)
    if not isinstance(call, Call):
        # also every ACK for a stateless refusal: debug, not info
        log.debug("%s: ACK from %s dropped: %s", ack.call_id, received.remote[0], call[2])
        return
    from_caller = (ack.from_.tag or "") == call.caller_tag
    if from_caller:
        call.acked()
    target = indialog.known_next_hop(ack, call, toward_caller=not from_caller)
    if target is not None:
        send_ack(core, ack, call, target, from_caller)
        return

    def resolved(result: DnsResult) -> None:
        if isinstance(result, Exception):
            log.info("%s: ACK not forwarded: %s", ack.call_id, result)
        else:
            send_ack(core, ack, call, result[0], from_caller)

    resolve_next_hop(core, ack, resolved)


def send_ack(core: ProxyCore, ack: Request, call: Call, target: Target, from_caller: bool) -> None:
    if indialog.elsewhere(ack, call, target, from_caller):
        return
    if call.media is not None and has_sdp(ack):  # the answer to a late offer
        call.media.in_dialog(
            call,
            ack,
            from_caller=from_caller,
            then=lambda out: send_ack_now(core, out or ack, call, target, from_caller),
        )
        return
    send_ack_now(core, ack, call, target, from_caller)


def send_ack_now(
    core: ProxyCore, ack: Request, call: Call, target: Target, from_caller: bool
) -> None:
    """Send the ACK (its SDP relayed already)."""
    context = None
    if ack.body:
        context = call.sdp_context(IN_DIALOG, toward_caller=not from_caller, method="ACK")
    if from_caller:
        ack = auth.toward_callee(call, ack)
    core.fx.add_send(core.build.forward(ack, target, context), target)


def teardown(core: ProxyCore, call: Call) -> None:
    """BYE the far end of a call whose caller never ACKed the 2xx (§13.3.1.4)."""
    if call.out is None or call.answer is None:
        return
    locality = core.build.locality
    bye = bye_toward_callee(call.out, call.answer, lambda u: locality.is_local(u.host, u.port))
    if bye is None:
        log.info("%s: the 2xx has no usable Contact: no BYE sent", call.call_id)
        return
    target = indialog.known_next_hop(bye, call, toward_caller=False)
    if target is not None:
        send_teardown(core, bye, call, target)
        return

    def resolved(result: DnsResult) -> None:
        if isinstance(result, Exception):
            log.info("%s: BYE not sent: %s", call.call_id, result)
        else:
            send_teardown(core, bye, call, result[0])

    resolve_next_hop(core, bye, resolved)


def send_teardown(core: ProxyCore, bye: Request, call: Call, target: Target) -> None:
    if indialog.elsewhere(bye, call, target, from_caller=True):
        return
    branch = core.build.branch(bye)
    out = bye.prepend("Via", core.build.via(target.transport, target.host, branch))
    core.fx.start_client(out, target, ignore, ignore)
