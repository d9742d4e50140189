"""PURE framing of rtpengine's ng control protocol: ``<cookie> <bencoded dictionary>`` over UDP.

A request is a dictionary with ``command`` (ping, offer, answer, delete, list, query, …); the
reply carries the same cookie and a dictionary with ``result`` (``ok``, ``pong``, ``error`` with
``error-reason``, or ``load limit``). rtpengine caches replies by cookie, so a retransmission
with the same cookie is answered without being executed twice.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from guestjoin.media.bencode import BencodeError, Value, decode, encode

MAX_DATAGRAM = 65_507


class NgError(Exception):
    """rtpengine refused a request, or its reply could not be understood."""


@dataclass(frozen=True, kw_only=True, slots=True)
class NgRequest:
    """One request with the cookie that identifies its reply."""

    cookie: str
    command: Mapping[str, Any]

    @property
    def name(self) -> str:
        """The command's name (``offer``, ``delete``, …)."""
        return str(self.command.get("command", ""))

    def datagram(self) -> bytes:
        """The bytes sent to the engine."""
        data = self.cookie.encode("ascii") + b" " + encode(self.command)
        if len(data) > MAX_DATAGRAM:
            raise NgError(f"{self.name}: request of {len(data)} bytes does not fit a datagram")
        return data


@dataclass(frozen=True, kw_only=True, slots=True)
class NgReply:
    """A successful reply's dictionary."""

    cookie: str
    body: Mapping[str, Value] = field(default_factory=dict)

    @property
    def sdp(self) -> str:
        """The rewritten SDP of an offer or answer (``''`` when absent)."""
        value = self.body.get("sdp", "")
        return value if isinstance(value, str) else ""


def request(command: Mapping[str, Any], cookie: str | None = None) -> NgRequest:
    """A request with a fresh random cookie (or the given one)."""
    if "command" not in command:
        raise ValueError("an ng request needs a 'command'")
    return NgRequest(cookie=cookie or secrets.token_hex(8), command=dict(command))


def split_reply(data: bytes) -> tuple[str, bytes]:
    """(cookie, bencoded body) of a datagram from the engine."""
    cookie, space, body = data.partition(b" ")
    if not space or not cookie:
        raise NgError("reply without a cookie")
    try:
        return cookie.decode("ascii"), body
    except UnicodeDecodeError as exc:
        raise NgError("reply cookie is not ASCII") from exc


def parse_reply(cookie: str, body: bytes, command: str = "") -> NgReply:
    """The reply's dictionary; ``NgError`` for an error result or a malformed body."""
    what = command or "request"
    try:
        value = decode(body)
    except BencodeError as exc:
        raise NgError(f"{what}: malformed reply ({exc})") from exc
    if not isinstance(value, dict):
        raise NgError(f"{what}: reply is not a dictionary")
    result = value.get("result")
    if result in ("ok", "pong"):
        return NgReply(cookie=cookie, body=value)
    reason = value.get("error-reason") or value.get("warning") or result
    text = reason.decode("utf-8", "replace") if isinstance(reason, bytes) else str(reason)
    raise NgError(f"{what}: rtpengine answered {result!r}: {text}")
