"""Answering the far end's digest challenges for calls of rules with ``outbound_credentials``.

The Pexip Service tells a trusted customer gateway from any other caller by SIP digest
authentication: it challenges, the gateway answers for its rooms. When the far end answers a
call's INVITE with 401/407 and the call's rule names ``sip_credentials``, the INVITE is sent
again once, with ``Authorization``/``Proxy-Authorization`` (``guestjoin.sip.digest_client``)
and the next CSeq number (RFC 3261 §8.1.3.5, §22.2). Later requests of the caller in the dialog
carry credentials for the last challenge, and one challenged again is re-sent once the same way.

Each re-sent request moves the callee leg's CSeq numbers one ahead of the caller's, as a B2BUA
or Kamailio's ``uac_auth`` with dialog CSeq tracking would: ``Call.cseq_offset`` is added to
the caller's requests toward the callee (and their ACKs) and taken off the responses going
back. Calls of rules without credentials pass every challenge to the caller unchanged.
"""

from __future__ import annotations

import logging
import secrets
from typing import TYPE_CHECKING

from guestjoin.sip.digest_client import HEADERS, DialogAuth, Login
from guestjoin.sip.message import Request, Response

if TYPE_CHECKING:
    from guestjoin.core.branch import Call

log = logging.getLogger("guestjoin.proxy")


def _renumbered(request: Request, number: int) -> Request:
    return request.set("CSeq", f"{number} {request.cseq.method}")


def login_for(call: Call) -> Login | None:
    """The rule's ``sip_credentials`` with the password revealed, or None."""
    decision = call.decision
    if decision is None or not decision.credentials:
        return None
    credential = call.env.credential(decision.credentials)
    if credential is None or credential.password is None:
        log.warning(
            "%s: rule %s names sip_credentials %r, which is not configured",
            call.call_id,
            decision.rule,
            decision.credentials,
        )
        return None
    return Login(
        username=credential.username,
        password=credential.password.reveal(),
        realm=credential.realm,
    )


def answer_challenge(call: Call, sent: Request, response: Response) -> Request | None:
    """``sent`` again with credentials and the next CSeq, or None (pass the challenge on).

    ``sent`` is the request as it left toward the callee (its top Via is ours and is replaced
    by the caller of this function with a new branch).
    """
    names = HEADERS.get(response.status)
    if names is None:
        return None
    if call.auth is None:
        login = login_for(call)
        if login is None:
            return None
        call.auth = DialogAuth(login=login)
    answer = call.auth.answer(
        response.status,
        response.get_all(names[0]),  # one challenge per line (§7.3.1: never comma-folded)
        method=sent.cseq.method,
        uri=sent.uri,
        cnonce=secrets.token_hex(8),
    )
    if answer is None:
        log.info("%s: the far end's challenge cannot be answered: passed on", call.call_id)
        return None
    call.cseq_offset += 1
    again = _renumbered(sent.remove_first_value("Via"), sent.cseq.number + 1)
    return again.remove("Authorization").remove("Proxy-Authorization").set(*answer)


def toward_callee(call: Call, request: Request) -> Request:
    """A caller's in-dialog request (or ACK) as the callee's leg numbers and authenticates it."""
    if call.cseq_offset:
        request = _renumbered(request, request.cseq.number + call.cseq_offset)
    if call.auth is not None and request.method not in ("ACK", "CANCEL"):
        header = call.auth.again(
            method=request.method, uri=request.uri, cnonce=secrets.token_hex(8)
        )
        if header is not None:
            request = request.set(*header)
    return request


def toward_caller(original: Request, response: Response) -> Response:
    """A response to a renumbered request, with the caller's own CSeq number again."""
    if response.cseq.number == original.cseq.number:
        return response
    return response.set("CSeq", f"{original.cseq.number} {response.cseq.method}")
