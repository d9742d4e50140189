"""Request limits over real HTTP (uvicorn with ``otj serve``'s settings, raw sockets).

An unauthenticated caller's body is never read (401 and the connection closes), a body over
its route's cap gets 413, a head over ``HEAD_LIMIT`` gets 431. Each flood is bounded in bytes
(256 MiB at most) and time (20 s).
"""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest

from otj.api.app import create_app
from otj.api.limits import HEAD_LIMIT
from otj.commands.serve import uvicorn_settings
from otj.store import Database
from tests.conftest import FakeClock
from tests.integration.delivery.served import serve
from tests.integration.delivery.storehelp import codec_endpoint, configure

ROOM = "fjord@rooms.example.com"
MIB = 1024 * 1024
HUGE = 256 * MIB
#: What may be sent before the server closes: the kernel's socket buffers on loopback.
UNREAD = 16 * MIB


@dataclass(frozen=True)
class Outcome:
    """What the server answered, how many body bytes went out, whether it closed."""

    response: bytes
    sent: int
    closed: bool

    @property
    def status(self) -> int:
        return int(self.response.split(b" ", 2)[1]) if self.response else 0


def flood(
    url: str, head: bytes, *, body: int, chunked: bool = False, seconds: float = 20
) -> Outcome:
    """Send ``head`` and then up to ``body`` bytes of body while reading the answer."""
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=5)
    sock.setblocking(False)
    deadline = time.monotonic() + seconds
    chunk = b"a" * (64 * 1024)
    pending = head
    sent = 0
    response = b""
    closed = False
    while time.monotonic() < deadline and not closed:
        if not pending and sent < body:
            size = min(len(chunk), body - sent)
            pending = (b"%x\r\n%s\r\n" % (size, chunk[:size])) if chunked else chunk[:size]
            sent += size
            if chunked and sent >= body:
                pending += b"0\r\n\r\n"
        readable, writable, _ = select.select([sock], [sock] if pending else [], [], 0.5)
        try:
            if readable:
                data = sock.recv(65536)
                closed = not data
                response += data
            if writable and pending:
                pending = pending[sock.send(pending) :]
        except (BrokenPipeError, ConnectionResetError):
            closed = True
    sock.close()
    return Outcome(response=response, sent=sent, closed=closed)


def post_head(
    path: str, *, length: int | None, headers: str = "", media: str = "application/json"
) -> bytes:
    framing = f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked"
    return (
        f"POST {path} HTTP/1.1\r\nHost: otj\r\nContent-Type: {media}\r\n{framing}\r\n{headers}\r\n"
    ).encode()


@pytest.fixture
def served(db: Database, clock: FakeClock) -> Iterator[tuple[str, str]]:
    configure(db, [codec_endpoint("fjord", ROOM, port=9)])
    token, _ = db.tokens.create("endpoint", "fjord", now=clock.now(), endpoint="fjord")
    with serve(create_app(db, clock=clock.now), **uvicorn_settings()) as url:
        yield url, token


DIAL = f"/panel/{ROOM}/dial"


@pytest.mark.parametrize("length", [HUGE, None], ids=["content-length", "chunked"])
def test_an_unpaired_dial_is_refused_without_reading_its_body(
    served: tuple[str, str], length: int | None
) -> None:
    url, _ = served
    head = post_head(DIAL, length=length, headers="X-OTJ-Panel: 1\r\n")
    out = flood(url, head, body=HUGE, chunked=length is None)
    assert out.status == 401, out.response[:200]
    assert out.closed, "the connection must close instead of draining the body"
    assert out.sent < UNREAD, f"{out.sent / MIB:.0f} MiB sent before the server closed"


@pytest.mark.parametrize("length", [HUGE, None], ids=["content-length", "chunked"])
def test_a_paired_dial_over_the_cap_gets_413(served: tuple[str, str], length: int | None) -> None:
    url, token = served
    headers = f"X-OTJ-Panel: 1\r\nCookie: otj_panel={token}\r\n"
    out = flood(
        url, post_head(DIAL, length=length, headers=headers), body=HUGE, chunked=length is None
    )
    assert out.status == 413, out.response[:200]
    assert out.closed
    assert out.sent < UNREAD


def test_a_paired_dial_within_the_cap_is_read(served: tuple[str, str]) -> None:
    url, token = served
    body = b'{"id": "no-such-meeting"}'
    headers = f"X-OTJ-Panel: 1\r\nCookie: otj_panel={token}\r\nConnection: close\r\n"
    out = flood(url, post_head(DIAL, length=len(body), headers=headers) + body, body=0)
    assert out.status == 404, out.response[:300]
    assert b"no longer in the room's calendar" in out.response


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/oauth/token", 413),  # its credentials are in the body: read up to 8 KiB only
        ("/api/v1/endpoints/fjord/feedback/wrong-secret", 404),
        ("/api/v1/status/rooms", 405),
        ("/no/such/route", 404),
    ],
)
def test_other_posts_never_read_a_huge_body(
    served: tuple[str, str], path: str, status: int
) -> None:
    url, _ = served
    form = "application/x-www-form-urlencoded"
    out = flood(url, post_head(path, length=HUGE, media=form), body=HUGE)
    assert out.status == status, out.response[:200]
    assert out.closed
    assert out.sent < UNREAD


def test_a_get_with_a_body_is_answered_unread(served: tuple[str, str]) -> None:
    url, _ = served
    head = f"GET /api/v1/status/rooms HTTP/1.1\r\nHost: otj\r\nContent-Length: {HUGE}\r\n\r\n"
    out = flood(url, head.encode(), body=HUGE)
    assert out.status == 401
    assert out.closed
    assert out.sent < UNREAD


@pytest.mark.parametrize("shape", ["many headers", "one long header"])
def test_a_head_over_the_cap_gets_431(served: tuple[str, str], shape: str) -> None:
    url, _ = served
    if shape == "many headers":
        fields = "".join(f"X-Pad-{i}: {'a' * 1000}\r\n" for i in range(8 * 1024))
    else:
        fields = f"X-Pad: {'a' * 8 * MIB}\r\n"
    head = f"GET /api/v1/health HTTP/1.1\r\nHost: otj\r\n{fields}\r\n".encode()
    out = flood(url, head, body=0)
    assert out.status == 431, out.response[:200]
    assert out.closed


def test_a_head_within_the_cap_is_served(served: tuple[str, str]) -> None:
    url, _ = served
    fields = "".join(f"X-Pad-{i}: {'a' * 1000}\r\n" for i in range(HEAD_LIMIT // 2 // 1000))
    head = f"GET /api/v1/health HTTP/1.1\r\nHost: otj\r\n{fields}Connection: close\r\n\r\n"
    out = flood(url, head.encode(), body=0)
    assert out.status == 200, out.response[:200]
