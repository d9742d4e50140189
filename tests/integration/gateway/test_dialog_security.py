"""A small SIP attacker in Python against a live gateway on loopback (issue 11): in-dialog
requests of dialogs the gateway never record-routed, forged and borrowed dialog tokens, stray
responses, look-alike hosts, rejections that amplify, and 2xx that are never ACKed.

The far end is a Python UAS that answers every INVITE with a 200 and records every request it
receives, so "not relayed" is observed where it matters. Every flood is bounded in count and
time, and timers run on an injected clock (no 32-second waits).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import cast

import pytest

from guestjoin.config import GatewayConfig
from guestjoin.gateway import GatewayOptions
from guestjoin.proxy import ProxyOptions
from guestjoin.sip import Message, Request, Response, SipParseError, make_response, parse_message
from otj.model import CallRoutingRule, GatewaySettings
from tests.unit.gateway.support import ManualClock

from .dns_server import ZoneServer, meet_zone
from .peers import GatewayUnderTest, running_gateway

pytestmark = [pytest.mark.peer]

MEET = CallRoutingRule(
    name="SIP Guest Join", priority=10, match_string=r"[a-z\-]{10,12}@google\.pexip\.me"
)
OPTIONS = GatewayOptions(reload_interval=0, proxy=ProxyOptions(failover_timeout=2.0))
MEET_URI = "sip:abc-defg-hij@google.pexip.me"
PSTN = "sip:+15551234567@127.0.0.1:{port}"  # the shape of toll fraud
_SEQ = itertools.count(1)


@dataclass
class Peer(asyncio.DatagramProtocol):
    """One UDP socket on loopback that records every message it receives."""

    host: str = "127.0.0.1"
    port: int = 0
    inbox: list[Message] = field(default_factory=list)
    transport: asyncio.DatagramTransport | None = None
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)
        self.port = transport.get_extra_info("sockname")[1]

    def datagram_received(self, data: bytes, addr: tuple[str | int, int]) -> None:
        try:
            msg = parse_message(data)
        except SipParseError:
            return
        self.inbox.append(msg)
        self.arrived.set()
        self.on_message(msg, addr)

    def on_message(self, msg: Message, addr: tuple[str | int, int]) -> None:
        """Hook for the far end."""

    def send(self, data: bytes | str, to: tuple[str, int]) -> None:
        assert self.transport is not None
        self.transport.sendto(data.encode() if isinstance(data, str) else data, to)

    def requests(self, method: str | None = None) -> list[Request]:
        return [
            m
            for m in self.inbox
            if isinstance(m, Request) and (method is None or m.method == method)
        ]

    def responses(self, call_id: str | None = None) -> list[Response]:
        return [
            m
            for m in self.inbox
            if isinstance(m, Response) and (call_id is None or m.call_id == call_id)
        ]

    async def until(self, check: Callable[[], object], timeout: float = 5.0) -> None:
        """Wait until ``check()`` is true."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not check():
            remaining = deadline - loop.time()
            assert remaining > 0, f"timed out; inbox: {[m.start_line() for m in self.inbox]}"
            self.arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.arrived.wait(), remaining)


class FarEnd(Peer):
    """The Pexip Service stand-in: 200 to every request but ACK, Record-Route echoed."""

    def on_message(self, msg: Message, addr: tuple[str | int, int]) -> None:
        if not isinstance(msg, Request) or msg.method == "ACK":
            return
        headers = [("Record-Route", v) for v in msg.values("Record-Route")]
        headers.append(("Contact", f"<sip:far@127.0.0.1:{self.port}>"))
        response = make_response(msg, 200, to_tag=f"far{msg.call_id[-6:]}", headers=tuple(headers))
        self.send(response.to_bytes(), (str(addr[0]), int(addr[1])))


@contextlib.asynccontextmanager
async def peer(kind: type[Peer] = Peer, host: str = "127.0.0.1") -> AsyncIterator[Peer]:
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_datagram_endpoint(
        lambda: kind(host=host), local_addr=(host, 0)
    )
    try:
        yield protocol
    finally:
        transport.close()


def request(
    method: str,
    uri: str,
    me: Peer,
    *,
    call_id: str,
    to_tag: str = "",
    routes: tuple[str, ...] = (),
    cseq: int = 1,
    extra: str = "",
) -> str:
    """A request as a UA would send it (the branch is new each time)."""
    lines = [
        f"{method} {uri} SIP/2.0",
        f"Via: SIP/2.0/UDP {me.host}:{me.port};branch=z9hG4bK-att{next(_SEQ)};rport",
        "Max-Forwards: 70",
        *(f"Route: {r}" for r in routes),
        f"From: <sip:room@{me.host}>;tag=from-{call_id}",
        f"To: <sip:abc-defg-hij@google.pexip.me>{';tag=' + to_tag if to_tag else ''}",
        f"Call-ID: {call_id}",
        f"CSeq: {cseq} {method}",
        f"Contact: <sip:room@{me.host}:{me.port}>",
        *([extra] if extra else []),
        "Content-Length: 0",
        "",
        "",
    ]
    return "\r\n".join(lines)


def gw_address(gw: GatewayUnderTest) -> tuple[str, int]:
    host, port = gw.udp.split(":")
    return host, int(port)


def config(zone: ZoneServer, far: Peer, **settings: object) -> GatewayConfig:
    zone.set_zone(meet_zone([("127.0.0.1", far.port)]))
    return GatewayConfig(
        rules=(MEET,),
        settings=GatewaySettings(dns_servers=(zone.address,), **settings),  # type: ignore[arg-type]
    )


async def settle(seconds: float = 0.3) -> None:
    """Give the gateway time to do what it should not do (forward, retransmit)."""
    await asyncio.sleep(seconds)


# --- 3. refusals are stateless: one response, no 100 Trying, no retransmission ----------------


@pytest.mark.parametrize(
    ("case", "uri", "extra", "settings", "status"),
    [
        ("no matching rule", "sip:nobody@example.com", "", {}, 404),
        ("Max-Forwards 0", "sip:abc-defg-hij@google.pexip.me", "Max-Forwards: 0", {}, 483),
        ("preloaded Route", MEET_URI, "Route: <sip:192.0.2.9;lr>", {}, 403),
        (
            "allowed_sources",
            "sip:abc-defg-hij@google.pexip.me",
            "",
            {"allowed_sources": ("192.0.2.0/24",)},
            403,
        ),
    ],
)
async def test_a_refused_invite_draws_exactly_one_response(
    zone: ZoneServer, case: str, uri: str, extra: str, settings: dict[str, object], status: int
) -> None:
    clock = ManualClock()
    async with peer(FarEnd) as far, peer() as attacker:
        cfg = config(zone, far, **settings)
        async with running_gateway(cfg, OPTIONS, clock=clock) as gw:
            data = request("INVITE", uri, attacker, call_id=f"amp-{case}", extra=extra)
            if extra.startswith("Max-Forwards"):
                data = data.replace("Max-Forwards: 70\r\n", "", 1)
            attacker.send(data, gw_address(gw))
            await attacker.until(attacker.responses)
            for _ in range(8):  # Timers G and H, never ACKed: nothing more may come
                clock.advance(5)
                await settle(0.05)
            await settle()
            assert [r.status for r in attacker.responses()] == [status], case
            assert far.requests() == []


# --- 1. in-dialog requests only for dialogs we record-routed ---------------------------------


async def test_in_dialog_requests_of_a_rejected_call_are_not_relayed(zone: ZoneServer) -> None:
    async with (
        peer(FarEnd) as far,
        peer() as attacker,
        running_gateway(config(zone, far), OPTIONS) as gw,
    ):
        gw_host, gw_port = gw_address(gw)
        attacker.send(
            request("INVITE", "sip:nobody@example.com", attacker, call_id="relay-1"),
            (gw_host, gw_port),
        )
        await attacker.until(lambda: any(r.status >= 200 for r in attacker.responses("relay-1")))
        rejected = next(r for r in attacker.responses("relay-1") if r.status >= 200)
        assert rejected.status == 404
        tag = rejected.to.tag or "x"
        route = f"<sip:{gw_host}:{gw_port};lr>"
        forged = f"<sip:{gw_host}:{gw_port};transport=udp;lr;otj-dlg={'0' * 32}>"
        attempts = [
            (method, routes)
            for method in ("INVITE", "MESSAGE", "OPTIONS", "BYE", "ACK")
            for routes in ((route,), (forged,), ())
        ]
        for method, routes in attempts:
            attacker.send(
                request(
                    method,
                    PSTN.format(port=far.port),
                    attacker,
                    call_id="relay-1",
                    to_tag=tag,
                    routes=routes,
                    cseq=2,
                ),
                (gw_host, gw_port),
            )

        def answers() -> list[int]:
            return [r.status for r in attacker.responses("relay-1") if r.cseq.number == 2]

        await attacker.until(lambda: len(answers()) >= 12)
        await settle()
        assert far.requests() == [], "an in-dialog request of a rejected call was relayed"
        # one answer per non-ACK attempt: 403 without a valid token, 481 without our Route
        assert sorted(answers()) == sorted([403, 403, 481] * 4)


async def test_a_dialog_token_opens_its_own_dialog_only(zone: ZoneServer) -> None:
    async with (
        peer(FarEnd) as far,
        peer() as room,
        running_gateway(config(zone, far), OPTIONS) as gw,
    ):
        gw_addr = gw_address(gw)
        room.send(
            request("INVITE", MEET_URI, room, call_id="real-1"),
            gw_addr,
        )
        await room.until(lambda: any(r.status == 200 for r in room.responses("real-1")))
        ok = next(r for r in room.responses("real-1") if r.status == 200)
        assert [r.status for r in room.responses("real-1")] == [100, 200]
        record_route = ok.values("Record-Route")
        assert record_route
        assert all("otj-dlg=" in rr for rr in record_route)
        routes = tuple(reversed(record_route))
        far_tag = ok.to.tag or ""
        contact = f"sip:far@127.0.0.1:{far.port}"

        def in_dialog(method: str, cseq: int, call_id: str = "real-1", uri: str = contact) -> str:
            return request(
                method, uri, room, call_id=call_id, to_tag=far_tag, routes=routes, cseq=cseq
            )

        room.send(in_dialog("ACK", 1), gw_addr)
        await far.until(lambda: far.requests("ACK"))
        # the token of this dialog does not open another one
        for method in ("INVITE", "MESSAGE"):
            room.send(in_dialog(method, 2, "borrowed-1", PSTN.format(port=far.port)), gw_addr)
        await room.until(lambda: len(room.responses("borrowed-1")) == 2)
        assert [r.status for r in room.responses("borrowed-1")] == [403, 403]
        # inside the dialog, requests pass both ways
        room.send(in_dialog("MESSAGE", 2), gw_addr)
        await room.until(lambda: len(room.responses("real-1")) == 3)
        room.send(in_dialog("BYE", 3), gw_addr)
        await room.until(lambda: len(room.responses("real-1")) == 4)
        assert [r.status for r in room.responses("real-1")] == [100, 200, 200, 200]
        assert [r.method for r in far.requests()] == ["INVITE", "ACK", "MESSAGE", "BYE"]
        call = await gw.ended("real-1")
        assert call.cause == "completed"


async def test_a_valid_token_does_not_take_a_dialog_elsewhere(zone: ZoneServer) -> None:
    """A caller with a real dialog (and so a valid token) cannot send it to another host:
    not by the Request-URI, not by an extra Route, not by posing as the callee."""
    async with (
        peer(FarEnd) as far,
        peer() as room,
        peer() as victim,
        running_gateway(config(zone, far), OPTIONS) as gw,
    ):
        gw_addr = gw_address(gw)
        room.send(request("INVITE", MEET_URI, room, call_id="hijack-1"), gw_addr)
        await room.until(lambda: any(r.status == 200 for r in room.responses("hijack-1")))
        ok = next(r for r in room.responses("hijack-1") if r.status == 200)
        ours = tuple(reversed(ok.values("Record-Route")))
        far_tag = ok.to.tag or ""
        contact = f"sip:far@127.0.0.1:{far.port}"
        room.send(
            request("ACK", contact, room, call_id="hijack-1", to_tag=far_tag, routes=ours), gw_addr
        )
        elsewhere = PSTN.format(port=victim.port)
        detour = f"<sip:127.0.0.1:{victim.port};lr>"
        attempts = [
            request(m, elsewhere, room, call_id="hijack-1", to_tag=far_tag, routes=ours, cseq=n)
            for n, m in enumerate(("INVITE", "MESSAGE", "OPTIONS"), start=2)
        ] + [
            request(
                "INVITE", contact, room, call_id="hijack-1", to_tag=far_tag, routes=(*ours, detour)
            ).replace("CSeq: 1 ", "CSeq: 5 ")
        ]
        # posing as the callee: From carries the far end's tag, To the caller's
        posing = "\r\n".join(
            [
                f"INVITE {elsewhere} SIP/2.0",
                f"Via: SIP/2.0/UDP {room.host}:{room.port};branch=z9hG4bK-pose;rport",
                "Max-Forwards: 70",
                *(f"Route: {v}" for v in (*ours, detour)),
                f"From: <sip:abc-defg-hij@google.pexip.me>;tag={far_tag}",
                f"To: <sip:room@{room.host}>;tag=from-hijack-1",
                "Call-ID: hijack-1",
                "CSeq: 9 INVITE",
                "Content-Length: 0",
                "",
                "",
            ]
        )
        for data in (*attempts, posing):
            room.send(data, gw_addr)
        await room.until(
            lambda: len([r for r in room.responses("hijack-1") if r.cseq.number > 1]) == 5
        )
        await settle()
        assert victim.inbox == [], "a dialog was taken to another host"
        refused = [r for r in room.responses("hijack-1") if r.cseq.number > 1]
        assert {(r.status, r.reason) for r in refused} == {(403, "Not Along The Dialog's Route")}
        assert [r.method for r in far.requests()] == ["INVITE", "ACK"]


async def test_re_invite_2xx_retransmission_and_a_bye_from_the_far_end(zone: ZoneServer) -> None:
    """The legitimate traffic of a dialog still passes: a re-INVITE and its ACK, a 2xx
    retransmitted by the far end (through the Accepted client transaction), and a BYE from
    the callee's side (its From tag is the callee's, its To tag the caller's)."""
    async with (
        peer(FarEnd) as far,
        peer() as room,
        running_gateway(config(zone, far), OPTIONS) as gw,
    ):
        gw_addr = gw_address(gw)
        room.send(request("INVITE", MEET_URI, room, call_id="both-1"), gw_addr)
        await room.until(lambda: any(r.status == 200 for r in room.responses("both-1")))
        invite_at_far = far.requests("INVITE")[0]
        ok = next(r for r in room.responses("both-1") if r.status == 200)
        # the far end retransmits its 2xx (as a UAS does until the ACK): it reaches the room
        again = make_response(
            invite_at_far,
            200,
            to_tag=ok.to.tag,
            headers=(
                *(("Record-Route", v) for v in invite_at_far.values("Record-Route")),
                ("Contact", f"<sip:far@127.0.0.1:{far.port}>"),
            ),
        )
        far.send(again.to_bytes(), gw_addr)
        await room.until(lambda: [r.status for r in room.responses("both-1")] == [100, 200, 200])
        routes = tuple(reversed(ok.values("Record-Route")))
        contact = f"sip:far@127.0.0.1:{far.port}"
        tag = ok.to.tag or ""
        room.send(
            request("ACK", contact, room, call_id="both-1", to_tag=tag, routes=routes), gw_addr
        )
        room.send(
            request("INVITE", contact, room, call_id="both-1", to_tag=tag, routes=routes, cseq=2),
            gw_addr,
        )
        await room.until(lambda: room.responses("both-1")[-1].cseq.number == 2)
        assert room.responses("both-1")[-1].status == 200
        room.send(
            request("ACK", contact, room, call_id="both-1", to_tag=tag, routes=routes, cseq=2),
            gw_addr,
        )
        await far.until(lambda: len(far.requests("ACK")) == 2)
        # the far end hangs up: its BYE follows its route set (Record-Route in order)
        bye = "\r\n".join(
            [
                f"BYE sip:room@{room.host}:{room.port} SIP/2.0",
                f"Via: SIP/2.0/UDP 127.0.0.1:{far.port};branch=z9hG4bK-farbye;rport",
                "Max-Forwards: 70",
                *(f"Route: {v}" for v in invite_at_far.values("Record-Route")),
                f"From: <sip:abc-defg-hij@google.pexip.me>;tag={tag}",
                f"To: <sip:room@{room.host}>;tag=from-both-1",
                "Call-ID: both-1",
                "CSeq: 1 BYE",
                "Content-Length: 0",
                "",
                "",
            ]
        )
        far.send(bye, gw_addr)
        await room.until(lambda: room.requests("BYE"))
        room.send(make_response(room.requests("BYE")[0], 200).to_bytes(), gw_addr)
        await far.until(lambda: any(r.cseq.method == "BYE" for r in far.responses("both-1")))
        assert [r.status for r in far.responses("both-1")] == [200]
        call = await gw.ended("both-1")
        assert call.cause == "not_admitted"  # the far end hung up within the lobby window


async def test_responses_matching_no_transaction_are_dropped(zone: ZoneServer) -> None:
    async with (
        peer(FarEnd) as far,
        peer() as attacker,
        peer() as victim,
        running_gateway(config(zone, far), OPTIONS) as gw,
    ):
        gw_host, gw_port = gw_address(gw)
        for n in range(20):
            attacker.send(
                (
                    "SIP/2.0 200 OK\r\n"
                    f"Via: SIP/2.0/UDP {gw_host}:{gw_port};branch=z9hG4bK-otj{n:010x}.1\r\n"
                    f"Via: SIP/2.0/UDP {victim.host}:{victim.port};branch=z9hG4bKv{n}\r\n"
                    f"From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>;tag=2\r\nCall-ID: stray-{n}\r\n"
                    "CSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
                ),
                (gw_host, gw_port),
            )
        await settle(0.5)
        assert victim.inbox == [], "a response to no transaction of ours was forwarded"


# --- 2. look-alike hosts ----------------------------------------------------------------------

LOOK_ALIKES = [
    "abc-defg-hij@google.pex\u0130p.me",  # İ
    "abc-defg-hij@google.pex\u0131p.me",  # dotless ı
    "abc-defg-hij@google\uff0epexip\uff0eme",  # fullwidth full stops
    "abc-defg-hi\u212a@google.pexip.me",  # KELVIN SIGN
]


async def test_look_alike_hosts_are_refused_not_routed(zone: ZoneServer) -> None:
    async with (
        peer(FarEnd) as far,
        peer() as attacker,
        running_gateway(config(zone, far), OPTIONS) as gw,
    ):
        for n, alias in enumerate(LOOK_ALIKES):
            attacker.send(
                request("INVITE", f"sip:{alias}", attacker, call_id=f"look-{n}").encode(),
                gw_address(gw),
            )
        await attacker.until(lambda: len(attacker.responses()) >= len(LOOK_ALIKES))
        await settle()
        answers = {r.call_id: r for r in attacker.responses()}
        assert len(attacker.responses()) == len(LOOK_ALIKES)  # one each, no 100
        for n, alias in enumerate(LOOK_ALIKES):
            response = answers[f"look-{n}"]
            assert (response.status, response.reason) == (404, "Non-ASCII Request-URI Refused")
            call = await gw.ended(f"look-{n}")
            assert call.cause == "no_route"
            assert "non-ASCII" in call.detail, alias
        assert far.requests() == []


# --- 4. unacknowledged INVITEs ----------------------------------------------------------------


async def test_unacknowledged_calls_neither_exhaust_licences_nor_outlive_64_t1(
    zone: ZoneServer,
) -> None:
    clock = ManualClock()
    async with (
        peer(FarEnd) as far,
        peer() as attacker,
        peer(host="127.0.0.2") as room,
        running_gateway(config(zone, far), OPTIONS, clock=clock) as gw,
    ):
        proxy = gw.gateway.proxy
        assert proxy is not None
        gw_addr = gw_address(gw)
        for n in range(50):  # answered by the far end, never ACKed
            attacker.send(
                request("INVITE", MEET_URI, attacker, call_id=f"n{n}"),
                gw_addr,
            )
            if n % 10 == 9:
                await settle(0.05)

        def finals() -> list[Response]:
            return [r for r in attacker.responses() if r.status >= 200]

        await attacker.until(lambda: len(finals()) == 50, timeout=15)
        statuses = sorted(r.status for r in finals())
        assert statuses == [200] * 20 + [503] * 30  # gateway.max_calls_per_source = 20
        refused = [r for r in finals() if r.status == 503]
        assert all(r.get("Retry-After") for r in refused)
        # the refusals were stateless: no 100 Trying for them
        trying = {r.call_id for r in attacker.responses() if r.status == 100}
        assert not trying & {r.call_id for r in refused}
        assert proxy.licences.in_use == 40
        # a room elsewhere still gets through
        room.send(
            request("INVITE", MEET_URI, room, call_id="legit"),
            gw_addr,
        )
        await room.until(lambda: any(r.status == 200 for r in room.responses("legit")))
        ok = next(r for r in room.responses("legit") if r.status == 200)
        room.send(
            request(
                "ACK",
                f"sip:far@127.0.0.1:{far.port}",
                room,
                call_id="legit",
                to_tag=ok.to.tag or "",
                routes=tuple(reversed(ok.values("Record-Route"))),
            ),
            gw_addr,
        )
        await far.until(lambda: far.requests("ACK"))
        clock.advance(31)  # just short of 64*T1: nothing ends yet
        await settle(0.1)
        assert far.requests("BYE") == []
        clock.advance(1.2)  # 64*T1 after the 2xx without an ACK: the gateway ends them
        await far.until(lambda: len({b.call_id for b in far.requests("BYE")}) == 20)
        byes = far.requests("BYE")
        assert {b.call_id for b in byes} == {f"n{n}" for n in range(50)} & {
            r.call_id for r in finals() if r.status == 200
        }
        assert all(b.to.tag and b.from_.tag for b in byes)
        assert proxy.licences.in_use == 2  # only the acknowledged call holds licences
        causes = [c.cause for c in gw.recorder.calls.values() if c.call_id.startswith("n")]
        assert sorted(causes) == ["no_ack"] * 20 + ["source_limit"] * 30
        # the source may call again
        attacker.send(
            request("INVITE", MEET_URI, attacker, call_id="again"),
            gw_addr,
        )
        await attacker.until(lambda: any(r.status == 200 for r in attacker.responses("again")))
