"""Header names, compact forms, comma splitting, Via and CSeq values (RFC 3261 §7.3, §20)."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from guestjoin.sip.uri import Params, UriError, param, parse_params, render_params, split_hostport

COMPACT_FORMS: dict[str, str] = {
    "a": "Accept-Contact",
    "b": "Referred-By",
    "c": "Content-Type",
    "d": "Request-Disposition",
    "e": "Content-Encoding",
    "f": "From",
    "i": "Call-ID",
    "j": "Reject-Contact",
    "k": "Supported",
    "l": "Content-Length",
    "m": "Contact",
    "n": "Identity-Info",
    "o": "Event",
    "r": "Refer-To",
    "s": "Subject",
    "t": "To",
    "u": "Allow-Events",
    "v": "Via",
    "x": "Session-Expires",
    "y": "Identity",
}

_CANONICAL: dict[str, str] = {
    name.lower(): name
    for name in (
        "Accept",
        "Accept-Contact",
        "Accept-Encoding",
        "Accept-Language",
        "Alert-Info",
        "Allow",
        "Allow-Events",
        "Authentication-Info",
        "Authorization",
        "Call-ID",
        "Call-Info",
        "Contact",
        "Content-Disposition",
        "Content-Encoding",
        "Content-Language",
        "Content-Length",
        "Content-Type",
        "CSeq",
        "Date",
        "Error-Info",
        "Event",
        "Expires",
        "From",
        "Identity",
        "Identity-Info",
        "In-Reply-To",
        "Max-Forwards",
        "Min-Expires",
        "MIME-Version",
        "Organization",
        "P-Asserted-Identity",
        "P-Preferred-Identity",
        "Path",
        "Priority",
        "Privacy",
        "Proxy-Authenticate",
        "Proxy-Authorization",
        "Proxy-Require",
        "RAck",
        "Reason",
        "Record-Route",
        "Refer-To",
        "Referred-By",
        "Reject-Contact",
        "Reply-To",
        "Request-Disposition",
        "Require",
        "Retry-After",
        "Route",
        "RSeq",
        "Server",
        "Session-Expires",
        "Min-SE",
        "Subject",
        "Supported",
        "Timestamp",
        "To",
        "Unsupported",
        "User-Agent",
        "Via",
        "Warning",
        "WWW-Authenticate",
    )
}

_NAME_CACHE: dict[str, str] = {}


def canonical_name(raw: str) -> str:
    """Map a received header name (any case, compact or full) to its canonical spelling."""
    cached = _NAME_CACHE.get(raw)
    if cached is not None:
        return cached
    name = _canonical(raw)
    if len(_NAME_CACHE) < 4096:
        _NAME_CACHE[raw] = name
    return name


def _canonical(raw: str) -> str:
    lower = raw.lower()
    if len(lower) == 1:
        full = COMPACT_FORMS.get(lower)
        if full is not None:
            return full
    known = _CANONICAL.get(lower)
    if known is not None:
        return known
    return "-".join(part[:1].upper() + part[1:] for part in raw.split("-"))


_TOKEN_RE = re.compile(r"[A-Za-z0-9\-.!%*_+`'~]+")


def is_token(text: str) -> bool:
    """Whether ``text`` is a non-empty RFC 3261 token (§25.1)."""
    return _TOKEN_RE.fullmatch(text) is not None


def split_commas(value: str) -> list[str]:
    """Split a comma-folded header value, respecting quoted strings and ``<…>`` (§7.3.1)."""
    if "," not in value:
        return [value.strip()] if value.strip() else []
    if '"' not in value and "<" not in value:
        return [part for part in (p.strip() for p in value.split(",")) if part]
    out: list[str] = []
    depth = 0
    quoted = False
    start = 0
    i = 0
    n = len(value)
    while i < n:
        c = value[i]
        if quoted:
            if c == "\\":
                i += 1
            elif c == '"':
                quoted = False
        elif c == '"':
            quoted = True
        elif c == "<":
            depth += 1
        elif c == ">":
            depth = max(0, depth - 1)
        elif c == "," and depth == 0:
            part = value[start:i].strip()
            if part:
                out.append(part)
            start = i + 1
        i += 1
    tail = value[start:].strip()
    if tail:
        out.append(tail)
    return out


@dataclass(frozen=True, kw_only=True, slots=True)
class Via:
    """One Via value (§20.42, §18.2.1 received, RFC 3581 rport)."""

    transport: str
    host: str
    port: int | None = None
    params: Params = ()

    @property
    def branch(self) -> str | None:
        """The branch parameter (transaction id when it starts with the magic cookie)."""
        return param(self.params, "branch") or None

    @property
    def received(self) -> str | None:
        """The ``received`` parameter."""
        return param(self.params, "received") or None

    @property
    def rport(self) -> int | None:
        """The filled-in ``rport`` value, if any."""
        value = param(self.params, "rport")
        return int(value) if value and value.isdigit() else None

    @property
    def wants_rport(self) -> bool:
        """Whether the client asked for ``rport`` (RFC 3581 §3)."""
        return param(self.params, "rport") is not None

    @property
    def sent_by(self) -> str:
        """``host[:port]`` as sent."""
        return f"{self.host}:{self.port}" if self.port is not None else self.host

    def with_params(self, params: Params) -> Via:
        """Return a copy with other parameters."""
        return replace(self, params=params)

    def __str__(self) -> str:
        return f"SIP/2.0/{self.transport} {self.sent_by}{render_params(self.params)}"


def parse_via(text: str) -> Via:
    """Parse one Via value ``SIP/2.0/UDP host:port;params`` (§20.42)."""
    text = text.strip()
    proto, _, rest = text.partition(" ")
    parts = proto.split("/")
    if len(parts) != 3 or parts[0].strip().upper() != "SIP" or parts[1].strip() != "2.0":
        # tolerate "SIP / 2.0 / UDP" spacing
        squashed = text.replace(" /", "/").replace("/ ", "/")
        if squashed == text:
            raise UriError(f"invalid Via protocol in {text[:40]!r}")
        return parse_via(squashed)
    transport = parts[2].strip().upper()
    if not is_token(transport):
        raise UriError("invalid Via transport")
    rest = rest.strip()
    hostport, semi, params_text = rest.partition(";")
    host, port = split_hostport(hostport.replace(" ", "").replace("\t", ""))
    return Via(
        transport=transport,
        host=host,
        port=port,
        params=parse_params(params_text) if semi else (),
    )


@dataclass(frozen=True, kw_only=True, slots=True)
class CSeq:
    """The CSeq value (§20.16)."""

    number: int
    method: str

    def __str__(self) -> str:
        return f"{self.number} {self.method}"


def parse_cseq(text: str) -> CSeq:
    """Parse ``123 INVITE``; the number is a 32-bit unsigned integer (§8.1.1.5)."""
    number, _, method = text.strip().partition(" ")
    method = method.strip()
    if not number.isdigit() or len(number) > 10 or int(number) >= 2**32 or not is_token(method):
        raise UriError(f"invalid CSeq {text[:40]!r}")
    return CSeq(number=int(number), method=method)
