"""Cut a TCP/TLS byte stream into SIP messages by Content-Length (RFC 3261 §18.3) and
recognise CRLF keep-alives (RFC 5626 §3.5.1)."""

from __future__ import annotations

import re
from enum import Enum

from guestjoin.sip.parser import DEFAULT_LIMITS, Limits


class Keepalive(Enum):
    """RFC 5626 §3.5.1 keep-alive frames on a stream."""

    PING = "ping"  # CRLFCRLF: answer with a CRLF pong
    PONG = "pong"  # CRLF: nothing to do


class StreamError(ValueError):
    """The stream cannot be framed any more (the connection must be closed)."""


_CL_RE = re.compile(rb"(?:^|\n)(?:content-length|l)[ \t]*:[ \t]*([^\r\n]*)", re.IGNORECASE)


class StreamFramer:
    """Cut a TCP/TLS byte stream into messages by Content-Length (§18.3)."""

    def __init__(self, limits: Limits = DEFAULT_LIMITS) -> None:
        self._buf = bytearray()
        self._limits = limits

    def feed(self, data: bytes) -> list[bytes | Keepalive]:
        """Add received bytes; return the complete messages and keep-alives found."""
        self._buf += data
        out: list[bytes | Keepalive] = []
        buf = self._buf
        while buf:
            if buf[0] in (0x0D, 0x0A):
                if buf.startswith(b"\r\n\r\n"):
                    del buf[:4]
                    out.append(Keepalive.PING)
                    continue
                if buf.startswith(b"\r\n"):
                    if len(buf) < 4 and b"\r\n\r\n".startswith(bytes(buf)):
                        break  # maybe the start of a ping
                    del buf[:2]
                    out.append(Keepalive.PONG)
                    continue
                if len(buf) == 1 and buf[0] == 0x0D:
                    break
                del buf[:1]
                continue
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > self._limits.max_head:
                    raise StreamError("headers too large")
                break
            if end > self._limits.max_head:
                raise StreamError("headers too large")
            head = bytes(buf[: end + 2])
            match = _CL_RE.search(head)
            length = 0
            if match is not None:
                text = match.group(1).strip()
                if not text.isdigit() or len(text) > 9:
                    raise StreamError("malformed Content-Length")
                length = int(text)
            if length > self._limits.max_body:
                raise StreamError("body too large")
            total = end + 4 + length
            if len(buf) < total:
                break
            out.append(bytes(buf[:total]))
            del buf[:total]
        return out

    @property
    def pending(self) -> int:
        """Bytes buffered but not yet framed."""
        return len(self._buf)
