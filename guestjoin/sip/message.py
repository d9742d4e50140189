"""SIP request and response values and their wire form (RFC 3261 §7, §8.2.6, §20)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Self, TypeVar

from guestjoin.sip.headers import (
    CSeq,
    Via,
    parse_cseq,
    parse_via,
    split_commas,
)
from guestjoin.sip.uri import NameAddr, SipUri, parse_name_addr, parse_uri

HeaderList = tuple[tuple[str, str], ...]
T = TypeVar("T")

REASONS: dict[int, str] = {
    100: "Trying",
    180: "Ringing",
    181: "Call Is Being Forwarded",
    182: "Queued",
    183: "Session Progress",
    200: "OK",
    202: "Accepted",
    300: "Multiple Choices",
    301: "Moved Permanently",
    302: "Moved Temporarily",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    407: "Proxy Authentication Required",
    408: "Request Timeout",
    413: "Request Entity Too Large",
    414: "Request-URI Too Long",
    415: "Unsupported Media Type",
    416: "Unsupported URI Scheme",
    420: "Bad Extension",
    423: "Interval Too Brief",
    480: "Temporarily Unavailable",
    481: "Call/Transaction Does Not Exist",
    482: "Loop Detected",
    483: "Too Many Hops",
    484: "Address Incomplete",
    486: "Busy Here",
    487: "Request Terminated",
    488: "Not Acceptable Here",
    491: "Request Pending",
    500: "Server Internal Error",
    501: "Not Implemented",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Server Time-out",
    505: "Version Not Supported",
    513: "Message Too Large",
    600: "Busy Everywhere",
    603: "Decline",
    604: "Does Not Exist Anywhere",
    606: "Not Acceptable",
}

_BAD_VALUE_CHARS = ("\r", "\n", "\x00")
_MEMO_KEYS = {"Via": "via", "From": "from", "To": "to", "CSeq": "cseq"}


def check_header_value(name: str, value: str) -> None:
    """Refuse CR, LF and NUL in a header value: no header injection through our own output."""
    for bad in _BAD_VALUE_CHARS:
        if bad in value or bad in name:
            raise ValueError(f"header {name!r} contains a forbidden control character")


@dataclass(frozen=True, kw_only=True, slots=True)
class _Message:
    """Headers and body shared by requests and responses (§7)."""

    headers: HeaderList = ()
    body: bytes = b""
    # parsed header values, memoised per instance (every change makes a new instance)
    _memo: dict[str, Any] | None = field(default=None, init=False, repr=False, compare=False)

    def _copy(self, headers: HeaderList, body: bytes, changed: str | None) -> Self:
        """A copy with new headers/body keeping the memo of the headers that did not change."""
        raise NotImplementedError

    def _carry(self, other: Self, changed: str | None) -> Self:
        memo = self._memo
        if memo:
            kept = dict(memo)
            if changed is None:
                pass
            elif changed == "*":
                kept.clear()
            else:
                kept.pop(_MEMO_KEYS.get(changed, ""), None)
            if kept:
                object.__setattr__(other, "_memo", kept)
        return other

    def _cached(self, key: str, parse: Callable[[], T]) -> T:
        memo = self._memo
        if memo is None:
            memo = {}
            object.__setattr__(self, "_memo", memo)
        try:
            return memo[key]  # type: ignore[no-any-return]
        except KeyError:
            value = memo[key] = parse()
            return value

    # --- reading ---------------------------------------------------------------------------
    def get(self, name: str) -> str | None:
        """The first header line's value for ``name`` (canonical spelling), or None."""
        for key, value in self.headers:
            if key == name:
                return value
        return None

    def get_all(self, name: str) -> list[str]:
        """Every header line's value for ``name``, in order."""
        return [value for key, value in self.headers if key == name]

    def values(self, name: str) -> list[str]:
        """Every value of a list header, comma-folded lines split (§7.3.1)."""
        out: list[str] = []
        for key, value in self.headers:
            if key == name:
                out.extend(split_commas(value))
        return out

    def first_value(self, name: str) -> str | None:
        """The first value of a list header (the top Via, the top Route)."""
        for key, value in self.headers:
            if key == name:
                if "," in value:
                    parts = split_commas(value)
                    if parts:
                        return parts[0]
                    continue
                return value.strip()
        return None

    @property
    def call_id(self) -> str:
        """The Call-ID (§20.8)."""
        return self.get("Call-ID") or ""

    @property
    def cseq(self) -> CSeq:
        """The CSeq (§20.16)."""
        return self._cached("cseq", lambda: parse_cseq(self.get("CSeq") or ""))

    @property
    def from_(self) -> NameAddr:
        """The From address (§20.20)."""
        return self._cached("from", lambda: parse_name_addr(self.get("From") or ""))

    @property
    def to(self) -> NameAddr:
        """The To address (§20.39)."""
        return self._cached("to", lambda: parse_name_addr(self.get("To") or ""))

    @property
    def top_via(self) -> Via:
        """The topmost Via (§8.1.1.7)."""
        return self._cached("via", lambda: parse_via(self.first_value("Via") or ""))

    @property
    def content_type(self) -> str:
        """The media type without parameters, lower case."""
        value = self.get("Content-Type") or ""
        return value.partition(";")[0].strip().lower()

    # --- copying with changes --------------------------------------------------------------
    def prepend(self, name: str, value: str) -> Self:
        """Add a value above the existing ones of ``name`` (Via, Record-Route; §16.6)."""
        check_header_value(name, value)
        headers = list(self.headers)
        for i, (key, _) in enumerate(headers):
            if key == name:
                headers.insert(i, (name, value))
                break
        else:
            # a new list header goes below the Via block (Via itself on top)
            at = 0
            if name != "Via":
                at = next(
                    (i + 1 for i in range(len(headers) - 1, -1, -1) if headers[i][0] == "Via"), 0
                )
            headers.insert(at, (name, value))
        return self._copy(tuple(headers), self.body, name)

    def append(self, name: str, value: str) -> Self:
        """Add a header line at the end."""
        check_header_value(name, value)
        return self._copy((*self.headers, (name, value)), self.body, name)

    def set(self, name: str, value: str) -> Self:
        """Replace every line of ``name`` by one line holding ``value`` (kept in place)."""
        check_header_value(name, value)
        headers: list[tuple[str, str]] = []
        done = False
        for key, old in self.headers:
            if key == name:
                if not done:
                    headers.append((name, value))
                    done = True
            else:
                headers.append((key, old))
        if not done:
            headers.append((name, value))
        return self._copy(tuple(headers), self.body, name)

    def remove(self, name: str) -> Self:
        """Drop every line of ``name``."""
        return self._copy(tuple(h for h in self.headers if h[0] != name), self.body, name)

    def remove_first_value(self, name: str) -> Self:
        """Drop the first value of a list header, keeping the rest of a comma-folded line."""
        headers = list(self.headers)
        for i, (key, value) in enumerate(headers):
            if key == name:
                parts = split_commas(value)
                if len(parts) <= 1:
                    del headers[i]
                else:
                    headers[i] = (name, ", ".join(parts[1:]))
                break
        return self._copy(tuple(headers), self.body, name)

    def with_body(self, body: bytes, content_type: str | None = None) -> Self:
        """Return a copy with another body (Content-Length is always recomputed)."""
        msg = self._copy(self.headers, body, None)
        if content_type is not None:
            msg = msg.set("Content-Type", content_type)
        return msg

    # --- wire form -------------------------------------------------------------------------
    def start_line(self) -> str:
        """The request line or status line."""
        raise NotImplementedError

    def to_bytes(self) -> bytes:
        """Serialise with Content-Length recomputed from the body (§20.14)."""
        lines = [self.start_line()]
        length = str(len(self.body))
        seen_length = False
        for key, value in self.headers:
            text = value
            if key == "Content-Length":
                if seen_length:
                    continue
                seen_length = True
                text = length
            lines.append(f"{key}: {text}" if text else f"{key}:")
        if not seen_length:
            lines.append(f"Content-Length: {length}")
        lines.append("")
        lines.append("")
        return "\r\n".join(lines).encode() + self.body


@dataclass(frozen=True, kw_only=True, slots=True)
class Request(_Message):
    """A SIP request (§7.1); ``uri`` is the Request-URI text."""

    method: str
    uri: str

    def sip_uri(self) -> SipUri:
        """The Request-URI parsed as a SIP URI."""
        return parse_uri(self.uri)

    def with_top_via(self, via: Via) -> Request:
        """Replace the topmost Via value (kept in its line when comma-folded; §18.2.1)."""
        headers = list(self.headers)
        for i, (key, value) in enumerate(headers):
            if key == "Via":
                rest = split_commas(value)[1:] if "," in value else []
                headers[i] = ("Via", ", ".join([str(via), *rest]))
                break
        else:
            headers.insert(0, ("Via", str(via)))
        copy = self._copy(tuple(headers), self.body, "Via")
        copy._cached("via", lambda: via)
        return copy

    def with_uri(self, uri: str) -> Request:
        """Return a copy with another Request-URI."""
        return self._carry(
            Request(method=self.method, uri=uri, headers=self.headers, body=self.body), None
        )

    def _copy(self, headers: HeaderList, body: bytes, changed: str | None) -> Request:
        return self._carry(
            Request(method=self.method, uri=self.uri, headers=headers, body=body), changed
        )

    @property
    def max_forwards(self) -> int | None:
        """The Max-Forwards value, or None when absent or unreadable (§20.22)."""
        value = self.get("Max-Forwards")
        if value is None:
            return None
        value = value.strip()
        return int(value) if value.isdigit() and len(value) < 6 else None

    def start_line(self) -> str:
        """``METHOD uri SIP/2.0``."""
        return f"{self.method} {self.uri} SIP/2.0"


@dataclass(frozen=True, kw_only=True, slots=True)
class Response(_Message):
    """A SIP response (§7.2)."""

    status: int
    reason: str = ""

    def _copy(self, headers: HeaderList, body: bytes, changed: str | None) -> Response:
        return self._carry(
            Response(status=self.status, reason=self.reason, headers=headers, body=body), changed
        )

    @property
    def provisional(self) -> bool:
        """1xx."""
        return self.status < 200

    def start_line(self) -> str:
        """``SIP/2.0 code reason``."""
        return f"SIP/2.0 {self.status} {self.reason or REASONS.get(self.status, 'Unknown')}"


Message = Request | Response

_RESPONSE_COPY = ("Via", "From", "To", "Call-ID", "CSeq")


def make_response(
    request: Request,
    status: int,
    reason: str | None = None,
    *,
    to_tag: str | None = None,
    headers: HeaderList = (),
    body: bytes = b"",
) -> Response:
    """Build a response to ``request`` (§8.2.6): Via, From, To, Call-ID and CSeq copied.

    ``to_tag`` is added to To when the request has none (§8.2.6.2; not for 100 Trying).
    """
    copied: list[tuple[str, str]] = []
    for key, value in request.headers:
        if key in _RESPONSE_COPY:
            text = value
            if key == "To" and to_tag and status > 100:
                to = parse_name_addr(value)
                if to.tag is None:
                    text = str(to.with_tag(to_tag))
            copied.append((key, text))
    if status == 100 and request.get("Timestamp") is not None:
        copied.append(("Timestamp", request.get("Timestamp") or ""))
    for key, value in headers:
        check_header_value(key, value)
    reason_text = reason if reason is not None else REASONS.get(status, "Unknown")
    check_header_value("reason", reason_text)
    return Response(status=status, reason=reason_text, headers=(*copied, *headers), body=body)
