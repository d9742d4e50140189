"""Parse one SIP message (RFC 3261 §7, §20; framed streams in ``framing``): size limits, header
names and compact forms, Content-Length, the checks a proxy needs before reading a request, and
whether a 400 can be sent back (§21.4.1)."""

from __future__ import annotations

from dataclasses import dataclass

from guestjoin.sip.headers import canonical_name, is_token, parse_via
from guestjoin.sip.message import HeaderList, Message, Request, Response
from guestjoin.sip.uri import UriError


@dataclass(frozen=True, kw_only=True, slots=True)
class Limits:
    """Size limits that keep a hostile peer from exhausting memory."""

    max_head: int = 16 * 1024
    max_body: int = 64 * 1024
    max_headers: int = 128
    max_uri: int = 2048


DEFAULT_LIMITS = Limits()


class SipParseError(ValueError):
    """A malformed message; ``headers``/``is_request`` tell whether a 400 can be built (§21.4.1).

    ``status`` is the response code to use for a request (400, 413, 414, 505).
    """

    def __init__(
        self,
        reason: str,
        *,
        is_request: bool = False,
        method: str = "",
        headers: HeaderList = (),
        status: int = 400,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.is_request = is_request
        self.method = method
        self.headers = headers
        self.status = status


_REQUIRED_REQUEST = ("Via", "From", "To", "Call-ID", "CSeq")
_SINGLE = ("From", "To", "Call-ID", "CSeq", "Max-Forwards")


def _find_head_end(data: bytes) -> tuple[int, int]:
    """Return (end of head, start of body), or (-1, -1) when there is no empty line."""
    end = data.find(b"\r\n\r\n")
    if end >= 0:
        return end, end + 4
    end = data.find(b"\n\n")
    if end >= 0:
        return end, end + 2
    return -1, -1


def parse_message(data: bytes, *, limits: Limits = DEFAULT_LIMITS, stream: bool = False) -> Message:
    """Parse one complete message. Datagrams may carry trailing bytes beyond Content-Length
    (ignored, §18.3); a body shorter than Content-Length is an error. Raises ``SipParseError``.
    """
    lines, rest = _head_lines(data, limits)
    first = lines[0]
    is_request = not first.startswith("SIP/")
    method = ""
    if is_request:
        parts = first.split(" ")
        if len(parts) != 3:
            raise SipParseError("malformed request line", is_request=True)
        method, uri, version = parts
        if not is_token(method):
            raise SipParseError("malformed method", is_request=True)
    else:
        version, _, status_text = first.partition(" ")
        code, _, reason = status_text.partition(" ")
    headers = _parse_headers(lines, limits, is_request=is_request, method=method)
    if version.upper() != "SIP/2.0":
        raise SipParseError(
            "unsupported SIP version",
            is_request=is_request,
            method=method,
            headers=headers,
            status=505,
        )
    body = _body(rest, headers, limits, is_request=is_request, method=method, stream=stream)
    if is_request:
        if len(uri) > limits.max_uri:
            raise SipParseError(
                "Request-URI too long",
                is_request=True,
                method=method,
                headers=headers,
                status=414,
            )
        if ":" not in uri:
            raise SipParseError(
                "malformed Request-URI", is_request=True, method=method, headers=headers
            )
        msg: Message = Request(method=method, uri=uri, headers=headers, body=body)
    else:
        if len(code) != 3 or not code.isdigit() or not 100 <= int(code) <= 699:
            raise SipParseError("malformed status code")
        msg = Response(status=int(code), reason=reason, headers=headers, body=body)
    _validate(msg, headers)
    return msg


def _head_lines(data: bytes, limits: Limits) -> tuple[list[str], bytes]:
    """The head's lines (CRLF, or bare LF as some senders use) and the bytes after the empty
    line; leading CRLFs (keep-alives, RFC 5626 §3.5.1) are skipped."""
    start = 0
    while data.startswith(b"\r\n", start):
        start += 2
    if start:
        data = data[start:]
    if not data:
        raise SipParseError("empty message")
    head_end, body_start = _find_head_end(data)
    if head_end < 0:
        if len(data) > limits.max_head:
            raise _too_large(data, limits)
        raise SipParseError("missing empty line after headers (truncated message?)")
    if head_end > limits.max_head:
        raise _too_large(data, limits)
    try:
        head = data[:head_end].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SipParseError("headers are not valid UTF-8") from exc
    lines = head.split("\r\n") if data[head_end : head_end + 2] == b"\r\n" else head.split("\n")
    return lines, data[body_start:]


def _body(
    body: bytes,
    headers: HeaderList,
    limits: Limits,
    *,
    is_request: bool,
    method: str,
    stream: bool,
) -> bytes:
    """The body Content-Length delimits (RFC 3261 §18.3: required on streams, where the frame
    must match it exactly; a datagram's trailing bytes are ignored)."""
    length = _content_length(headers, is_request=is_request, method=method)
    if length is None:
        if len(body) > limits.max_body:
            raise SipParseError(
                "body too large", is_request=is_request, method=method, headers=headers, status=413
            )
        return body
    if length > limits.max_body:
        raise SipParseError(
            "body too large", is_request=is_request, method=method, headers=headers, status=413
        )
    if len(body) < length:
        raise SipParseError(
            "body shorter than Content-Length",
            is_request=is_request,
            method=method,
            headers=headers,
        )
    if stream and len(body) != length:
        raise SipParseError("stream frame does not match Content-Length")
    return body[:length]


def _too_large(data: bytes, limits: Limits) -> SipParseError:
    """A 513 error carrying whatever headers fit in the limit, so the sender can be told."""
    cut = data[: limits.max_head]
    cut = cut[: cut.rfind(b"\r\n")] if b"\r\n" in cut else b""
    lines = cut.decode("utf-8", errors="replace").split("\r\n")
    first = lines[0] if lines else ""
    is_request = bool(first) and not first.startswith("SIP/")
    method = first.split(" ", 1)[0] if is_request else ""
    headers: HeaderList = ()
    if is_request and is_token(method):
        try:
            headers = _parse_headers(lines, limits, is_request=True, method=method)
        except SipParseError as exc:
            headers = exc.headers
    return SipParseError(
        "headers too large",
        is_request=is_request and bool(headers),
        method=method,
        headers=headers,
        status=513,
    )


_CRLF_ERR = "forbidden control character in header (header injection?)"

# raw spellings seen on the wire → canonical names (a token check is not needed for these)
_KNOWN_NAMES: dict[str, str] = {
    spelling: canonical_name(spelling)
    for name in (
        "Via",
        "From",
        "To",
        "Call-ID",
        "CSeq",
        "Max-Forwards",
        "Contact",
        "Content-Type",
        "Content-Length",
        "Record-Route",
        "Route",
        "User-Agent",
        "Server",
        "Allow",
        "Supported",
        "Expires",
        "Authorization",
        "WWW-Authenticate",
        "Subject",
        "Reason",
        "Require",
        "Session-Expires",
        "Min-SE",
        "Accept",
        "Allow-Events",
        "P-Asserted-Identity",
    )
    for spelling in (name, name.lower(), name.upper())
} | {c: canonical_name(c) for c in ("v", "f", "t", "i", "m", "l", "c", "k", "s")}


def _parse_headers(
    lines: list[str], limits: Limits, *, is_request: bool, method: str
) -> HeaderList:
    out: list[tuple[str, str]] = []
    for line in lines[1:]:
        if not line:
            continue
        if line[0] in " \t":
            if not out:
                raise SipParseError(
                    "continuation line before any header", is_request=is_request, method=method
                )
            name, value = out[-1]
            out[-1] = (name, f"{value} {line.strip()}" if value else line.strip())
            continue
        raw_name, colon, value = line.partition(":")
        raw_name = raw_name.rstrip(" \t")
        known = _KNOWN_NAMES.get(raw_name)
        if known is not None and colon:
            if "\r" in value or "\x00" in value or "\n" in value:
                raise SipParseError(
                    _CRLF_ERR, is_request=is_request, method=method, headers=tuple(out)
                )
            out.append((known, value.strip(" \t")))
            if len(out) > limits.max_headers:
                raise SipParseError(
                    "too many headers",
                    is_request=is_request,
                    method=method,
                    headers=tuple(out),
                    status=513,
                )
            continue
        if not colon or not is_token(raw_name):
            raise SipParseError(
                f"malformed header line {line[:30]!r}",
                is_request=is_request,
                method=method,
                headers=tuple(out),
            )
        if "\r" in value or "\x00" in value or "\n" in value:
            raise SipParseError(_CRLF_ERR, is_request=is_request, method=method, headers=tuple(out))
        out.append((canonical_name(raw_name), value.strip(" \t")))
        if len(out) > limits.max_headers:
            raise SipParseError(
                "too many headers",
                is_request=is_request,
                method=method,
                headers=tuple(out),
                status=513,
            )
    return tuple(out)


def _content_length(headers: HeaderList, *, is_request: bool, method: str) -> int | None:
    length: int | None = None
    for key, value in headers:
        if key == "Content-Length":
            if not value.isdigit() or len(value) > 9:
                raise SipParseError(
                    "malformed Content-Length",
                    is_request=is_request,
                    method=method,
                    headers=headers,
                )
            if length is not None and int(value) != length:
                raise SipParseError(
                    "conflicting Content-Length headers",
                    is_request=is_request,
                    method=method,
                    headers=headers,
                )
            length = int(value)
    return length


def _validate(msg: Message, headers: HeaderList) -> None:
    """Check the mandatory headers (§8.1.1) so the rest of the stack can rely on them."""
    is_request = isinstance(msg, Request)
    method = msg.method if isinstance(msg, Request) else ""
    present = {k for k, _ in headers}
    for name in _REQUIRED_REQUEST:
        if name not in present:
            raise SipParseError(
                f"missing {name} header", is_request=is_request, method=method, headers=headers
            )
    for name in _SINGLE:
        if sum(1 for k, _ in headers if k == name) > 1:
            # §7.3.1: only list headers may repeat; two Call-IDs (or To tags) would let us check
            # one dialog while the next hop acts on another
            raise SipParseError(
                f"more than one {name} header",
                is_request=is_request,
                method=method,
                headers=headers,
            )
    if not msg.call_id.strip():
        raise SipParseError("empty Call-ID", is_request=is_request, method=method, headers=headers)
    try:
        msg.top_via  # noqa: B018 - parse check (memoised for the transaction layer)
        cseq = msg.cseq
        if is_request:
            msg.from_  # noqa: B018 - parsed once, memoised for the proxy
            msg.to  # noqa: B018
    except UriError as exc:
        raise SipParseError(
            str(exc), is_request=is_request, method=method, headers=headers
        ) from exc
    if not is_request and (":" not in (msg.get("To") or "") or ":" not in (msg.get("From") or "")):
        raise SipParseError("malformed From or To header")  # a response's are parsed when used
    if isinstance(msg, Request):
        if cseq.method != msg.method:
            raise SipParseError(
                "CSeq method does not match the request method",
                is_request=True,
                method=method,
                headers=headers,
            )
        mf = msg.get("Max-Forwards")
        if mf is not None and msg.max_forwards is None:
            raise SipParseError(
                "malformed Max-Forwards", is_request=True, method=method, headers=headers
            )


def via_for_reply(error: SipParseError) -> bool:
    """Whether a 400 can be sent for this error: a request (not ACK) with a readable top Via."""
    if not error.is_request or error.method == "ACK":
        return False
    via = next((v for k, v in error.headers if k == "Via"), None)
    if via is None:
        return False
    try:
        parse_via(via.split(",")[0])
    except UriError:
        return False
    return True
