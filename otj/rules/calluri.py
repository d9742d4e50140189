"""Is the text after ``sip:``/``sips:``/``h323:`` an address a room can dial? (DESIGN.md §4).

The fallback takes what follows the scheme up to whitespace, ``;`` or ``?`` (parameters and
headers are not part of the alias). It is dialled only when it is a syntactically valid
``[userinfo "@"] hostport`` of RFC 3261 §25.1 (host: a hostname, an IPv4 address or a bracketed
IPv6 reference; port: digits). Without a user part the host must be an IP address or a name
with a dot: ``sip:please`` in "sip:please ask the host" is a word, not a server. An H.323 URL
(RFC 3508) may also be a bare E.164 number. ``sip:(ask reception)`` gives ``(ask``: no address.
"""

from __future__ import annotations

import ipaddress
import re

_USER = re.compile(r"(?:[A-Za-z0-9\-_.!~*'()&=+$,;?/]|%[0-9A-Fa-f]{2})+")
_PASSWORD = re.compile(r"(?:[A-Za-z0-9\-_.!~*'()&=+$,]|%[0-9A-Fa-f]{2})*")
_HOSTNAME = re.compile(
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)*[A-Za-z](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.?"
)
_DIGITS = re.compile(r"[0-9]+")
_MAX_LENGTH = 512


def valid_host(text: str) -> bool:
    """RFC 3261 ``host``: hostname, IPv4address or ``[IPv6address]``."""
    if text.startswith("[") and text.endswith("]"):
        try:
            ipaddress.IPv6Address(text[1:-1])
        except ValueError:
            return False
        return True
    if _HOSTNAME.fullmatch(text):
        return True
    try:
        ipaddress.IPv4Address(text)
    except ValueError:
        return False
    return True


def _valid_hostport(text: str, *, dotted: bool = False) -> bool:
    host, port = text, ""
    if text.startswith("["):
        end = text.find("]")
        host, rest = text[: end + 1], text[end + 1 :]
        if rest:
            if not rest.startswith(":"):
                return False
            port = rest[1:]
            if not port:
                return False
    elif ":" in text:
        host, _, port = text.partition(":")
        if not port:
            return False
    if port and not (_DIGITS.fullmatch(port) and int(port) <= 65_535):
        return False
    if dotted and "." not in host.rstrip(".") and not host.startswith("["):
        return False
    return valid_host(host)


def valid_call_target(scheme: str, target: str) -> bool:
    """True when ``scheme:target`` is a dialable SIP (``sip``, ``sips``) or H.323 address."""
    if not target or len(target) > _MAX_LENGTH:
        return False
    user, at, hostport = target.rpartition("@")
    if at:
        name, colon, password = user.partition(":")
        if not _USER.fullmatch(name) or (colon and not _PASSWORD.fullmatch(password)):
            return False
        return _valid_hostport(hostport)
    if scheme.lower() == "h323" and _DIGITS.fullmatch(target):
        return True
    return _valid_hostport(target, dotted=True)
