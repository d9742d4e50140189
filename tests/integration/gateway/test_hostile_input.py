"""Malformed and hostile SIP sent at a live gateway while it serves a real call: nothing leaks
out of the event loop, malformed requests get a 400 with a reason, and calls keep working."""

from __future__ import annotations

import asyncio
import random
import socket
from pathlib import Path

import pytest

from guestjoin.config import GatewayConfig
from guestjoin.gateway import GatewayOptions
from guestjoin.proxy import ProxyOptions
from guestjoin.sip import SipParseError, parse_message
from otj.model import CallRoutingRule, GatewaySettings

from .dns_server import ZoneServer, meet_zone
from .peers import running_gateway, scenario, uac, uas

pytestmark = [pytest.mark.peer]

MEET = CallRoutingRule(
    name="SIP Guest Join", priority=10, match_string=r"[a-z\-]{10,12}@google\.pexip\.me"
)

INVITE = (
    b"INVITE sip:abc-defg-hij@google.pexip.me SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK-evil-{n};rport\r\n"
    b"Max-Forwards: 70\r\n"
    b"From: <sip:evil@127.0.0.1>;tag=e{n}\r\n"
    b"To: <sip:abc-defg-hij@google.pexip.me>\r\n"
    b"Call-ID: evil-{n}\r\n"
    b"CSeq: 1 INVITE\r\n"
    b"Content-Type: application/sdp\r\n"
    b"Content-Length: 10\r\n\r\n"
    b"v=0\r\ns=-\r\n"
)


def invite(n: int) -> bytes:
    return INVITE.replace(b"{n}", str(n).encode())


HOSTILE_DATAGRAMS = [
    ("truncated", invite(1)[:90], None),
    ("no end of headers", invite(2).split(b"\r\n\r\n")[0], None),
    (
        "short body",
        invite(3).replace(b"Content-Length: 10", b"Content-Length: 500"),
        b"SIP/2.0 400 Body shorter than Content-Length",
    ),
    (
        "bad Content-Length",
        invite(4).replace(b"Content-Length: 10", b"Content-Length: ten"),
        b"SIP/2.0 400 Malformed Content-Length",
    ),
    (
        "header injection",
        invite(5).replace(b"Max-Forwards: 70", b"Max-Forwards: 70\rX: y"),
        b"SIP/2.0 400 Forbidden control character",
    ),
    (
        "oversized",
        invite(6).replace(b"Max-Forwards: 70", b"X-Pad: " + b"A" * 30000),
        b"SIP/2.0 513 Headers too large",
    ),
    (
        "max-forwards 0",
        invite(7).replace(b"Max-Forwards: 70", b"Max-Forwards: 0"),
        b"SIP/2.0 483 Too Many Hops",
    ),
    (
        "tel uri",
        invite(8).replace(b"INVITE sip:abc-defg-hij@google.pexip.me", b"INVITE tel:+4712345678"),
        b"SIP/2.0 416 ",
    ),
    (
        "proxy-require",
        invite(9).replace(b"Max-Forwards: 70", b"Max-Forwards: 70\r\nProxy-Require: evil"),
        b"SIP/2.0 420 ",
    ),
    (
        "preloaded route (relay attempt)",
        invite(10).replace(b"Max-Forwards: 70", b"Max-Forwards: 70\r\nRoute: <sip:192.0.2.99;lr>"),
        b"SIP/2.0 403 Preloaded Route Not Allowed",
    ),
    (
        "in-dialog for an unknown dialog (relay attempt)",
        invite(11).replace(
            b"To: <sip:abc-defg-hij@google.pexip.me>",
            b"To: <sip:abc-defg-hij@google.pexip.me>;tag=x",
        ),
        b"SIP/2.0 481 ",
    ),
    ("binary garbage", bytes(range(256)) * 4, None),
    (
        "response to nobody",
        (
            b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKx\r\n"
            b"From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>;tag=2\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n"
            b"Content-Length: 0\r\n\r\n"
        ),
        None,
    ),
]


def _ack(reply: bytes) -> bytes:
    """The ACK a client sends for a final non-2xx response (RFC 3261 §17.1.1.3).

    The transport layer's own 400/513 answers are stateless and may lack From/To: the
    ACK is then unparseable at the gateway, which ignores it, as it should.
    """
    try:
        msg = parse_message(reply)
    except SipParseError:
        return b"ACK"
    headers = "".join(
        f"{k}: {v}\r\n" for k, v in msg.headers if k in ("Via", "From", "To", "Call-ID")
    )
    return (
        f"ACK sip:abc-defg-hij@google.pexip.me SIP/2.0\r\n{headers}"
        f"CSeq: {msg.cseq.number} ACK\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    ).encode()


async def _udp_exchange(
    sock: socket.socket, gw: tuple[str, int], data: bytes, wait: float
) -> bytes | None:
    """Send one datagram; return the final answer (ACKed, so it is not retransmitted)."""
    loop = asyncio.get_running_loop()
    sock.sendto(data, gw)
    try:
        while True:
            reply = await asyncio.wait_for(loop.sock_recv(sock, 65535), wait)
            if not reply.startswith(b"SIP/2.0 100"):
                sock.sendto(_ack(reply), gw)
                return reply
    except TimeoutError:
        return None


async def _tcp_garbage(port: int) -> list[bytes]:
    """Garbage and half messages over TCP; returns what the gateway answered on each."""
    answers = []
    for payload in (
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",  # not SIP: 400 cannot be sent, just dropped
        b"X" * 40000,  # no end of headers within the limit: connection closed
        invite(20).replace(b"Content-Length: 10", b"Content-Length: abc"),  # unframeable
        invite(21)[:100],  # half a message, then the client goes away
    ):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(payload)
        await writer.drain()
        try:
            answers.append(await asyncio.wait_for(reader.read(65536), 0.5))
        except TimeoutError:
            answers.append(b"(open)")
        writer.close()
    return answers


async def test_hostile_input_does_not_disturb_a_call_in_progress(
    zone: ZoneServer, tmp_path: Path
) -> None:
    config = GatewayConfig(rules=(MEET,), settings=GatewaySettings(dns_servers=(zone.address,)))
    options = GatewayOptions(reload_interval=0, proxy=ProxyOptions(failover_timeout=2.0))
    async with running_gateway(config, options) as gw:
        far = await uas(
            tmp_path, scenario(tmp_path, "uas_lobby_then_bye.xml", lobby="1500"), calls=2
        )
        zone.set_zone(meet_zone([("127.0.0.1", far.port)]))
        call = asyncio.create_task(
            uac(tmp_path, scenario(tmp_path, "uac_far_end_hangs_up.xml"), gw.udp)
        )
        while not any(c.answer_at for c in gw.recorder.calls.values()):
            await asyncio.sleep(0.02)
        host, port = gw.udp.split(":")
        target = (host, int(port))
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind(("127.0.0.1", 0))
            sock.setblocking(False)
            for name, data, expected in HOSTILE_DATAGRAMS:
                reply = await _udp_exchange(sock, target, data, 0.3 if expected is None else 2)
                if expected is None:
                    assert reply is None, f"{name}: unexpected answer {reply!r}"
                else:
                    assert reply is not None, f"{name}: no answer"
                    assert reply.startswith(expected), f"{name}: {reply[:80]!r}"
            rng = random.Random(7)
            # a non-routable alias: mutations that stay valid end in a local 404, not at the
            # far end (which expects exactly the two real calls)
            base = invite(30).replace(b"abc-defg-hij@google.pexip.me", b"nobody@example.com")
            for i in range(300):  # random mutations of a real INVITE
                cut = rng.randrange(len(base))
                noise = bytes(rng.randrange(256) for _ in range(rng.randrange(8)))
                sock.sendto(base[:cut] + noise + base[cut + rng.randrange(3) :], target)
                if i % 50 == 0:
                    await asyncio.sleep(0)
        tcp_answers = await _tcp_garbage(gw.tcp_port)
        assert tcp_answers[1] == b""  # closed
        assert tcp_answers[2] == b""  # closed: framing impossible
        # the call in progress was not disturbed, and a new call works
        (await call).check()
        (
            await uac(
                tmp_path,
                scenario(tmp_path, "uac_far_end_hangs_up.xml"),
                gw.udp,
                service="bcd-efgh-ijk",
            )
        ).check()
        (await far.wait()).check()
        finished = [c for c in gw.recorder.calls.values() if c.cause == "not_admitted"]
        assert len(finished) == 2
