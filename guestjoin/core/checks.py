"""Request validation (RFC 3261 §16.3), Route pre-processing (§16.4) and the dialog checks.

Pure functions of the request, the listeners (``Locality``) and the keys: nothing here keeps
state. A request refused here is answered statelessly by the core.
"""

from __future__ import annotations

import ipaddress

from guestjoin.config import GatewayConfig
from guestjoin.core.messages import BRANCH_PREFIX, Locality, MessageBuilder
from guestjoin.dialog_token import PARAM, token_valid
from guestjoin.sip.headers import parse_via
from guestjoin.sip.message import Request
from guestjoin.sip.uri import SipUri, UriError, param, parse_name_addr, parse_uri
from guestjoin.values import Received


def validate(request: Request, build: MessageBuilder) -> tuple[int, str] | None:
    """§16.3: scheme, Max-Forwards, Proxy-Require, loops; None = the request may pass."""
    try:
        request.sip_uri()
    except UriError:
        return 416, "Unsupported URI Scheme"
    mf = request.max_forwards
    if mf is not None and mf <= 0:
        return 483, "Too Many Hops"
    if request.get("Proxy-Require") is not None:
        return 420, "Bad Extension"
    if looped(request, build):
        return 482, "Loop Detected"
    return None


def looped(request: Request, build: MessageBuilder) -> bool:
    """§16.3 step 4: our Via with the same loop hash means the request came back."""
    mine = None
    locality = build.locality
    for value in request.values("Via")[1:]:
        try:
            via = parse_via(value)
        except UriError:
            continue
        branch = via.branch or ""
        if branch.startswith(BRANCH_PREFIX) and locality.is_local(via.host, via.port):
            mine = mine or build.loop_hash(request)
            if branch[len(BRANCH_PREFIX) :].split(".", 1)[0] == mine:
                return True
    return False


def is_ours(locality: Locality, uri: SipUri) -> bool:
    """Whether a URI names one of our listeners."""
    return locality.is_local(uri.host, uri.port)


def preprocess_route(request: Request, locality: Locality) -> tuple[Request, tuple[str, ...]]:
    """Strip our own Route entries (§16.4); return the dialog token of each ("" = none)."""
    tokens: list[str] = []
    try:
        ruri = request.sip_uri()
    except UriError:
        ruri = None
    if ruri is not None and is_ours(locality, ruri) and ruri.lr and request.get("Route"):
        # a strict router put our Record-Route into the Request-URI (§16.4)
        routes = request.values("Route")
        last = _uri_of(routes[-1])  # None: not a URI; the Request-URI stays ours → refused
        if last is not None:
            request = _drop_last_route(request.with_uri(last))
            tokens.append(param(ruri.params, PARAM) or "")
    while True:
        top = request.first_value("Route")
        if top is None:
            break
        try:
            uri = parse_uri(parse_name_addr(top).uri)
        except UriError:
            break
        if not is_ours(locality, uri):
            break
        request = request.remove_first_value("Route")
        tokens.append(param(uri.params, PARAM) or "")
    return request, tuple(tokens)


def dialog_check(
    request: Request, tokens: tuple[str, ...], dialog_key: bytes
) -> tuple[int, str] | None:
    """Why an in-dialog request may not pass: no Route of ours (481), or one whose token was
    not made by us for this Call-ID and the From or To tag (403); None = it may."""
    if not tokens:
        return 481, "Call/Transaction Does Not Exist"
    tags = (request.from_.tag or "", request.to.tag or "")
    if not all(token_valid(dialog_key, request.call_id, tags, t) for t in tokens):
        return 403, "Dialog Not Record-Routed Here"
    return None


def source_allowed(received: Received, config: GatewayConfig) -> bool:
    """The gateway's source allow list (empty = everyone)."""
    networks = config.allowed_networks()
    if not networks:
        return True
    try:
        ip = ipaddress.ip_address(received.remote[0])
    except ValueError:
        return False
    return any(ip in net for net in networks)


def next_hop_uri(request: Request) -> SipUri:
    """The top Route's URI, else the Request-URI (§16.6 step 6–7)."""
    top = request.first_value("Route")
    if top is not None:
        return parse_uri(parse_name_addr(top).uri)
    return request.sip_uri()


def user_of(uri: str) -> str:
    """The user part of a URI ("" when there is none or it does not parse)."""
    try:
        return parse_uri(uri).user or ""
    except UriError:
        return ""


def _uri_of(value: str) -> str | None:
    try:
        uri = parse_name_addr(value).uri
        parse_uri(uri)
    except UriError:
        return None
    return uri


def _drop_last_route(request: Request) -> Request:
    routes = request.values("Route")
    request = request.remove("Route")
    for value in routes[:-1]:
        request = request.append("Route", value)
    return request
