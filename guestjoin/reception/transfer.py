"""PURE: the reception's dialog with the caller and the messages that transfer it.

REFER (RFC 3515): the reception asks the caller to call the chosen alias through the gateway.
``Refer-To`` is the alias with the gateway as a loose route in its URI headers (RFC 3261
§19.1.5), so the caller's new INVITE reaches the gateway's call routing rules whether or not
the caller uses the gateway as its outbound proxy. The caller's NOTIFYs carry ``message/sipfrag``
(RFC 3420) status lines; a 2xx one ends the reception's dialog with a BYE.

Third-party call control (RFC 3725 §4.1, with the reception's existing dialog as the first
one): the reception sends an INVITE without SDP to the far end, re-INVITEs the caller with the
far end's offer, and ACKs the far end with the caller's answer, so media flows between them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from urllib.parse import quote

from guestjoin.sip import NameAddr, Request, Response, Via, parse_name_addr, split_commas

#: Answers to REFER that mean "this endpoint does not do transfers": fall back to 3pcc.
REFER_REFUSED = frozenset({405, 420, 489, 501, 603})
USER_AGENT = "otj-reception"


@dataclass(frozen=True, kw_only=True, slots=True)
class Dialog:
    """One side of a dialog (RFC 3261 §12): ours is the ``local`` part."""

    call_id: str
    local: NameAddr  # with our tag
    remote: NameAddr  # with their tag
    remote_target: str  # their Contact URI
    route_set: tuple[str, ...] = ()
    local_cseq: int = 0
    contact: str = ""  # our Contact URI

    def next(self) -> tuple[Dialog, int]:
        """The dialog with its local CSeq advanced, and that CSeq."""
        cseq = self.local_cseq + 1
        return replace(self, local_cseq=cseq), cseq


def uas_dialog(invite: Request, local_tag: str, contact: str) -> Dialog:
    """Our dialog as the UAS of ``invite`` (§12.1.1): route set = Record-Route in order."""
    contacts = invite.values("Contact")
    target = parse_name_addr(contacts[0]).uri if contacts else invite.from_.uri
    return Dialog(
        call_id=invite.call_id,
        local=invite.to.with_tag(local_tag),
        remote=invite.from_,
        remote_target=target,
        route_set=tuple(invite.values("Record-Route")),
        local_cseq=0,
        contact=contact,
    )


def uac_dialog(request: Request, response: Response) -> Dialog:
    """Our dialog as the UAC of ``request`` once ``response`` (2xx) arrived (§12.1.2)."""
    contacts = response.values("Contact")
    target = parse_name_addr(contacts[0]).uri if contacts else request.uri
    contact_values = request.values("Contact")
    return Dialog(
        call_id=request.call_id,
        local=request.from_,
        remote=response.to,
        remote_target=target,
        route_set=tuple(reversed(response.values("Record-Route"))),
        local_cseq=request.cseq.number,
        contact=parse_name_addr(contact_values[0]).uri if contact_values else "",
    )


def in_dialog(
    dialog: Dialog,
    method: str,
    cseq: int,
    via: Via,
    *,
    headers: tuple[tuple[str, str], ...] = (),
    body: bytes = b"",
    content_type: str = "",
) -> Request:
    """A request within ``dialog`` (§12.2.1.1; loose routing: Request-URI = remote target)."""
    pairs: list[tuple[str, str]] = [
        ("Via", str(via)),
        ("Max-Forwards", "70"),
        *(("Route", r) for r in dialog.route_set),
        ("From", str(dialog.local)),
        ("To", str(dialog.remote)),
        ("Call-ID", dialog.call_id),
        ("CSeq", f"{cseq} {method}"),
    ]
    if dialog.contact and method in ("INVITE", "REFER"):
        pairs.append(("Contact", f"<{dialog.contact}>"))
    pairs += [*headers, ("User-Agent", USER_AGENT)]
    if body:
        pairs.append(("Content-Type", content_type))
    return Request(method=method, uri=dialog.remote_target, headers=tuple(pairs), body=body)


_ALIAS = re.compile(r"[^\s<>\"?;,]+")


def refer_to(alias: str, gateway: str, transport: str = "udp") -> str:
    """``<sip:alias?Route=<sip:gateway;lr;transport=…>>`` (URI headers escaped, §19.1.5).

    Raises ``ValueError`` for an alias that is not a plain ``user@host`` (no spaces, angle
    brackets, quotes, parameters or headers of its own).
    """
    if not _ALIAS.fullmatch(alias):
        raise ValueError(f"{alias!r} cannot be transferred to (not a plain user@host alias)")
    route = f"<sip:{gateway};transport={transport};lr>"
    return f"<sip:{alias}?Route={quote(route, safe='')}>"


def build_refer(
    dialog: Dialog, cseq: int, via: Via, *, alias: str, gateway: str, transport: str
) -> Request:
    """The REFER asking the caller to call ``alias`` through the gateway (RFC 3515 §2.4.1)."""
    return in_dialog(
        dialog,
        "REFER",
        cseq,
        via,
        headers=(
            ("Refer-To", refer_to(alias, gateway, transport)),
            ("Referred-By", f"<{dialog.local.uri}>"),
        ),
    )


def supports_refer(invite: Request) -> bool:
    """False when the caller's ``Allow`` lists methods without REFER (absent Allow: try it)."""
    allowed = [m.strip().upper() for v in invite.get_all("Allow") for m in split_commas(v)]
    return not allowed or "REFER" in allowed


def sipfrag_status(body: bytes) -> int | None:
    """The status code of a ``message/sipfrag`` NOTIFY body (RFC 3420), None when unreadable."""
    line = body.decode("utf-8", "replace").strip().splitlines()[:1]
    parts = line[0].split() if line else []
    if len(parts) >= 2 and parts[0].upper() == "SIP/2.0" and parts[1].isdigit():
        return int(parts[1])
    return None


def far_invite(
    *,
    call_id: str,
    target_uri: str,
    alias: str,
    caller: NameAddr,
    local_tag: str,
    contact: str,
    via: Via,
    display: str,
) -> Request:
    """RFC 3725 §4.1 step 1: an INVITE without SDP to the far end, as the caller (display)."""
    from_ = NameAddr(display=display or caller.display, uri=caller.uri).with_tag(local_tag)
    return Request(
        method="INVITE",
        uri=target_uri,
        headers=(
            ("Via", str(via)),
            ("Max-Forwards", "70"),
            ("From", str(from_)),
            ("To", f"<sip:{alias}>"),
            ("Call-ID", call_id),
            ("CSeq", "1 INVITE"),
            ("Contact", f"<{contact}>"),
            ("Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS"),
            ("User-Agent", USER_AGENT),
        ),
    )


def cancel_for(invite: Request) -> Request:
    """The CANCEL of a pending INVITE we sent (§9.1): its Via, Route, From, To, Call-ID."""
    keep = ("Via", "Route", "From", "To", "Call-ID", "Max-Forwards")
    headers = [(k, v) for k, v in invite.headers if k in keep]
    headers.append(("CSeq", f"{invite.cseq.number} CANCEL"))
    return Request(method="CANCEL", uri=invite.uri, headers=tuple(headers))


def ack_for(dialog: Dialog, invite_cseq: int, via: Via, body: bytes = b"") -> Request:
    """The ACK of a 2xx to our (re-)INVITE (§13.2.2.4), with the answer when we owe it."""
    return in_dialog(dialog, "ACK", invite_cseq, via, body=body, content_type="application/sdp")
