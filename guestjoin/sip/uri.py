"""SIP URIs and name-addr/addr-spec values (RFC 3261 §19.1, §20.10, §25.1)."""

from __future__ import annotations

from dataclasses import dataclass, replace

Params = tuple[tuple[str, str | None], ...]


class UriError(ValueError):
    """A URI or address value that does not follow the RFC 3261 grammar."""


_HOST_FORBIDDEN = frozenset(' \t\r\n"<>@;?,/\\')
_USER_FORBIDDEN = frozenset(' \t\r\n<>"')
_URI_FORBIDDEN = frozenset(" \t\r\n<>")


def parse_params(text: str) -> Params:
    """Parse ``;a=b;c`` (the leading ``;`` already removed) into ordered pairs (§19.1.1)."""
    if not text:
        return ()
    out: list[tuple[str, str | None]] = []
    for part in text.split(";"):
        name, eq, value = part.partition("=")
        name = name.strip()
        if not name:
            raise UriError("empty parameter name")
        out.append((name, value.strip() if eq else None))
    return tuple(out)


def render_params(params: Params) -> str:
    """Render parameters back to ``;a=b;c`` form."""
    return "".join(f";{k}" if v is None else f";{k}={v}" for k, v in params)


def param(params: Params, name: str) -> str | None:
    """A parameter value ('' for a flag parameter), or None when absent (case-insensitive)."""
    lname = name.lower()
    for k, v in params:
        if k.lower() == lname:
            return "" if v is None else v
    return None


def has_param(params: Params, name: str) -> bool:
    """Whether a parameter (flag or valued) is present."""
    return param(params, name) is not None


def set_param(params: Params, name: str, value: str | None) -> Params:
    """Return ``params`` with ``name`` set (replacing an existing one in place, else appended)."""
    lname = name.lower()
    out: list[tuple[str, str | None]] = []
    done = False
    for k, v in params:
        if k.lower() == lname:
            if not done:
                out.append((name, value))
                done = True
        else:
            out.append((k, v))
    if not done:
        out.append((name, value))
    return tuple(out)


def split_hostport(text: str) -> tuple[str, int | None]:
    """Split ``host[:port]`` including IPv6 references ``[::1]:5060`` (§25.1 hostport)."""
    if not text:
        raise UriError("empty host")
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise UriError("unterminated IPv6 reference")
        host, rest = text[: end + 1], text[end + 1 :]
        if rest and not rest.startswith(":"):
            raise UriError("garbage after IPv6 reference")
        port_text = rest[1:] if rest else ""
    else:
        host, _, port_text = text.partition(":")
        if not host or not _HOST_FORBIDDEN.isdisjoint(host):
            raise UriError(f"invalid host {host!r}")
    if not port_text:
        if text.endswith(":"):
            raise UriError("empty port")
        return host, None
    if not port_text.isdigit() or len(port_text) > 5 or not 0 < int(port_text) < 65536:
        raise UriError(f"invalid port {port_text!r}")
    return host, int(port_text)


@dataclass(frozen=True, kw_only=True, slots=True)
class SipUri:
    """A ``sip:`` or ``sips:`` URI (§19.1). ``host`` keeps IPv6 brackets."""

    scheme: str = "sip"
    user: str | None = None
    password: str | None = None
    host: str
    port: int | None = None
    params: Params = ()
    headers: str = ""

    @property
    def secure(self) -> bool:
        """Whether this is a ``sips`` URI (§26.2.2: TLS on every hop)."""
        return self.scheme == "sips"

    @property
    def transport(self) -> str | None:
        """The lower-cased ``transport`` parameter, if any."""
        value = param(self.params, "transport")
        return value.lower() if value else None

    @property
    def lr(self) -> bool:
        """Whether the URI carries the loose-routing flag (§16.12)."""
        return has_param(self.params, "lr")

    @property
    def maddr(self) -> str | None:
        """The ``maddr`` parameter, if any."""
        return param(self.params, "maddr") or None

    @property
    def host_lower(self) -> str:
        """The host in lower case, without IPv6 brackets."""
        return self.host.strip("[]").lower()

    @property
    def alias(self) -> str:
        """``user@host`` (or just ``host``): the alias without scheme, port and parameters."""
        return f"{self.user}@{self.host}" if self.user is not None else self.host

    def with_params(self, params: Params) -> SipUri:
        """Return a copy with other parameters."""
        return replace(self, params=params)

    def __str__(self) -> str:
        userinfo = ""
        if self.user is not None:
            userinfo = self.user
            if self.password is not None:
                userinfo += ":" + self.password
            userinfo += "@"
        port = f":{self.port}" if self.port is not None else ""
        headers = f"?{self.headers}" if self.headers else ""
        return f"{self.scheme}:{userinfo}{self.host}{port}{render_params(self.params)}{headers}"


def parse_uri(text: str) -> SipUri:
    """Parse a ``sip:``/``sips:`` URI (§19.1.1); anything else raises ``UriError``."""
    text = text.strip()
    scheme, colon, rest = text.partition(":")
    scheme = scheme.lower()
    if not colon or scheme not in ("sip", "sips"):
        raise UriError(f"unsupported URI scheme in {text[:40]!r}")
    rest, _, headers = rest.partition("?")
    user: str | None = None
    password: str | None = None
    at = rest.rfind("@")
    if at >= 0:
        userinfo, rest = rest[:at], rest[at + 1 :]
        if not userinfo:
            raise UriError("empty user part")
        user, pcolon, pw = userinfo.partition(":")
        if pcolon:
            password = pw
        if not _USER_FORBIDDEN.isdisjoint(userinfo):
            raise UriError("invalid character in user part")
    hostport, semi, params_text = rest.partition(";")
    host, port = split_hostport(hostport)
    params = parse_params(params_text) if semi else ()
    return SipUri(
        scheme=scheme,
        user=user,
        password=password,
        host=host,
        port=port,
        params=params,
        headers=headers,
    )


@dataclass(frozen=True, kw_only=True, slots=True)
class NameAddr:
    """A name-addr or addr-spec with header parameters (From, To, Contact, Route; §20.10).

    ``uri`` is kept as text so that any absolute URI (``tel:``, ``urn:``) survives a proxy hop;
    ``sip_uri()`` parses it when the element needs the SIP fields.
    """

    display: str | None = None
    uri: str
    params: Params = ()
    angle: bool = True

    @property
    def tag(self) -> str | None:
        """The ``tag`` parameter (§19.3)."""
        return param(self.params, "tag") or None

    def sip_uri(self) -> SipUri:
        """The URI parsed as a SIP URI (raises ``UriError`` for other schemes)."""
        return parse_uri(self.uri)

    def with_tag(self, tag: str) -> NameAddr:
        """Return a copy with ``tag`` set."""
        return replace(self, params=set_param(self.params, "tag", tag))

    def with_display(self, display: str | None) -> NameAddr:
        """Return a copy with another display name (rendered quoted and escaped)."""
        return replace(self, display=display, angle=True)

    def __str__(self) -> str:
        params = render_params(self.params)
        if not self.angle and not self.display:
            return f"{self.uri}{params}"
        display = f"{quote_display(self.display)} " if self.display else ""
        return f"{display}<{self.uri}>{params}"


def quote_display(text: str) -> str:
    """Render a display name as a quoted-string (§25.1), dropping control characters."""
    clean = "".join(c for c in text if c >= " " and c != "\x7f")
    return '"' + clean.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _unquote(text: str) -> str:
    out: list[str] = []
    i = 1
    while i < len(text) - 1:
        c = text[i]
        if c == "\\" and i + 1 < len(text) - 1:
            i += 1
            c = text[i]
        out.append(c)
        i += 1
    return "".join(out)


def parse_name_addr(text: str) -> NameAddr:
    """Parse ``"Name" <uri>;params``, ``Name <uri>``, ``<uri>`` or ``uri;params`` (§20.10).

    For the addr-spec form, parameters after the URI belong to the header (§20: a URI with
    parameters or commas must be in angle brackets to keep them).
    """
    text = text.strip()
    if not text:
        raise UriError("empty address")
    display: str | None = None
    i = 0
    if text.startswith('"'):
        i = 1
        while i < len(text):
            if text[i] == "\\":
                i += 2
                continue
            if text[i] == '"':
                break
            i += 1
        if i >= len(text):
            raise UriError("unterminated quoted display name")
        display = _unquote(text[: i + 1])
        i += 1
    lt = text.find("<", i)
    if lt >= 0:
        if display is None:
            token = text[:lt].strip()
            display = token or None
        elif text[i:lt].strip():
            raise UriError("garbage between display name and <uri>")
        gt = text.find(">", lt)
        if gt < 0:
            raise UriError("unterminated <uri>")
        uri = text[lt + 1 : gt].strip()
        rest = text[gt + 1 :].strip()
        angle = True
    else:
        if display is not None:
            raise UriError("display name without <uri>")
        uri, semi, rest = text.partition(";")
        uri = uri.strip()
        rest = semi + rest
        angle = False
    if not uri or ":" not in uri or not _URI_FORBIDDEN.isdisjoint(uri):
        raise UriError(f"invalid URI in address {text[:60]!r}")
    if rest and not rest.startswith(";"):
        raise UriError("garbage after address")
    params = parse_params(rest[1:])
    if sum(1 for k, _ in params if k.lower() == "tag") > 1:
        # one dialog checked here, another acted on by a next hop reading the other tag
        raise UriError("more than one tag parameter")
    return NameAddr(display=display, uri=uri, params=params, angle=angle)
