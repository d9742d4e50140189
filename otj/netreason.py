"""Readable one-line reasons for network failures, and URLs safe to show.

requests and urllib3 describe a refused connection as ``HTTPConnectionPool(host=…): Max
retries exceeded … (Caused by NewConnectionError('<urllib3.connection.HTTPConnection object at
0x7f…>: Failed to establish a new connection: [Errno 111] Connection refused'))``; httpx as
``[Errno 111] Connection refused``. :func:`reason` walks the exception's causes to the socket or
TLS error underneath and names it in a few words; :func:`safe_url` drops the user information
(RFC 3986 §3.2.1) and the query of a URL before it is shown or stored.
"""

from __future__ import annotations

import errno
import re
import socket
import ssl
from collections.abc import Iterator
from http import HTTPStatus
from urllib.parse import urlsplit, urlunsplit

_OBJECT_REPR = re.compile(r"<[\w.]+ object at 0x[0-9a-fA-F]+>:?\s*")
_ERRNO_TEXT = {
    errno.ECONNREFUSED: "connection refused",
    errno.ECONNRESET: "connection reset by the server",
    errno.EHOSTUNREACH: "host unreachable",
    errno.ENETUNREACH: "network unreachable",
    errno.ETIMEDOUT: "timed out",
}


def safe_url(url: str) -> str:
    """``url`` without ``user:password@`` and with its query replaced by ``?…``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(unparseable URL)"
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = f"{host}:{port}" if port is not None else host
    query = "…" if parts.query else ""
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def status_text(status: int) -> str:
    """``HTTP 503 Service Unavailable`` (the reason phrase of RFC 9110 §15 when known)."""
    try:
        return f"HTTP {status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"HTTP {status}"


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and everything it wraps: causes, contexts, urllib3's ``reason``, exception args."""
    seen: set[int] = set()
    todo = [exc]
    while todo:
        current = todo.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        wrapped = [current.__cause__, current.__context__, getattr(current, "reason", None)]
        wrapped += [a for a in getattr(current, "args", ()) if isinstance(a, BaseException)]
        todo.extend(w for w in wrapped if isinstance(w, BaseException))


def _is_timeout(exc: BaseException) -> bool:
    return isinstance(exc, TimeoutError | socket.timeout) or "Timeout" in type(exc).__name__


def reason(exc: BaseException) -> str:
    """A few words for why a request failed, without object representations or newlines."""
    chain = list(_chain(exc))
    for item in chain:
        if isinstance(item, ssl.SSLCertVerificationError):
            return f"TLS certificate not trusted ({item.verify_message or item.reason})"
    for item in chain:
        if isinstance(item, socket.gaierror):
            return f"host name not found ({item.strerror})"
        if isinstance(item, ssl.SSLError):
            return f"TLS handshake failed ({item.reason or item.strerror or item})"
        if isinstance(item, OSError) and item.errno in _ERRNO_TEXT:
            return _ERRNO_TEXT[item.errno]
    if any(_is_timeout(item) for item in chain):
        return "timed out"
    for item in reversed(chain):
        if isinstance(item, OSError) and item.strerror:
            return item.strerror[0].lower() + item.strerror[1:]
    return one_line(str(exc)) or type(exc).__name__


def one_line(text: str, limit: int = 300) -> str:
    """``text`` on one line, without ``<… object at 0x…>`` noise, at most ``limit`` characters."""
    flat = " ".join(_OBJECT_REPR.sub("", text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def request_url(exc: BaseException) -> str:
    """The URL of the request an httpx or requests exception belongs to ("" when unknown)."""
    try:
        request = getattr(exc, "request", None)  # httpx raises RuntimeError when unset
    except RuntimeError:
        return ""
    url = getattr(request, "url", None)
    return str(url) if url else ""
