"""The BYE a proxy sends to end a call whose caller vanished (PURE: builds the request only).

RFC 3261 §13.3.1.4: a UAS that gets no ACK for its 2xx within 64*T1 ends the dialog. The
gateway, which holds a licence for the call, does not wait for the far end: it sends the BYE
the caller would have sent, along the callee's route set as the 2xx recorded it (the
Record-Route entries above ours, in reverse order, RFC 3261 §12.1.2 seen from the middle).
"""

from __future__ import annotations

from collections.abc import Callable

from guestjoin.sip.message import Request, Response
from guestjoin.sip.uri import SipUri, UriError, parse_name_addr, parse_uri


def bye_toward_callee(
    invite: Request,
    answer: Response,
    is_ours: Callable[[SipUri], bool],
    *,
    reason: str = 'SIP;cause=408;text="No ACK for the 2xx"',
) -> Request | None:
    """The BYE for the dialog that ``answer`` (a 2xx) set up for ``invite`` as forwarded,
    without a Via (the sender adds its own); None when the 2xx had no usable Contact."""
    return _toward_callee(
        "BYE", invite, answer, is_ours, cseq=invite.cseq.number + 1, reason=reason
    )


def ack_toward_callee(
    invite: Request, answer: Response, is_ours: Callable[[SipUri], bool]
) -> Request | None:
    """The ACK for a 2xx the gateway does not pass upstream (RFC 3261 §13.2.2.4: same CSeq
    number as the INVITE), so that the far end stops retransmitting it before the BYE."""
    return _toward_callee("ACK", invite, answer, is_ours, cseq=invite.cseq.number, reason="")


def _toward_callee(
    method: str,
    invite: Request,
    answer: Response,
    is_ours: Callable[[SipUri], bool],
    *,
    cseq: int,
    reason: str,
) -> Request | None:
    contact = answer.first_value("Contact")
    if contact is None:
        return None
    try:
        target = parse_name_addr(contact).uri
        parse_uri(target)
    except UriError:
        return None
    above: list[str] = []
    for value in answer.values("Record-Route"):
        try:
            uri = parse_uri(parse_name_addr(value).uri)
        except UriError:
            return None
        if is_ours(uri):
            break
        above.append(value)
    headers: list[tuple[str, str]] = [("Max-Forwards", "70")]
    headers += [("Route", value) for value in reversed(above)]
    headers += [
        ("From", invite.get("From") or ""),
        ("To", answer.get("To") or ""),
        ("Call-ID", invite.call_id),
        ("CSeq", f"{cseq} {method}"),
        *((("Reason", reason),) if reason else ()),
        ("Content-Length", "0"),
    ]
    return Request(method=method, uri=target, headers=tuple(headers))
