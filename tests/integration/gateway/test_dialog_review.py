"""A second attacker against a live gateway on loopback (issue 11 review): a caller with one
legitimate call tries to steer the dialog elsewhere through its own Record-Route while posing
as the callee, and to borrow its token for another caller's dialog with the same Call-ID.

The room (the attacker) sends from 127.0.0.2, the far end and the victim listen on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field, replace

import pytest

from guestjoin.sip import Message, Request, Response, make_response
from guestjoin.sip.digest import DigestCredentials, expected_response, parse_auth_params
from otj.model import CallRoutingRule, Endpoint
from otj.secret import Secret
from tests.unit.gateway.support import ManualClock

from .dns_server import ZoneServer
from .peers import running_gateway
from .test_dialog_security import (
    MEET,
    MEET_URI,
    OPTIONS,
    PSTN,
    FarEnd,
    Peer,
    config,
    gw_address,
    peer,
    request,
    settle,
)

pytestmark = [pytest.mark.peer]


class RecordRoutingFarEnd(Peer):
    """A far end behind its own record-routing proxy (a loose router that forwards by the
    Request-URI once its Route entry is gone, as an SBC in front of a trunk does)."""

    def on_message(self, msg: Message, addr: tuple[str | int, int]) -> None:
        if not isinstance(msg, Request) or msg.method == "ACK":
            return
        headers = [("Record-Route", f"<sip:127.0.0.1:{self.port};lr>")]
        headers += [("Record-Route", v) for v in msg.values("Record-Route")]
        headers.append(("Contact", f"<sip:far@127.0.0.1:{self.port}>"))
        response = make_response(msg, 200, to_tag="far-rr", headers=tuple(headers))
        self.send(response.to_bytes(), (str(addr[0]), int(addr[1])))


def posing_as_callee(
    method: str, uri: str, room_host: str, room_port: int, *, call_id: str, far_tag: str
) -> list[str]:
    """Header lines of a request in the callee's name: From has the far end's tag."""
    return [
        f"{method} {uri} SIP/2.0",
        f"Via: SIP/2.0/UDP {room_host}:{room_port};branch=z9hG4bK-pose{method};rport",
        "Max-Forwards: 70",
        f"From: <sip:abc-defg-hij@google.pexip.me>;tag={far_tag}",
        f"To: <sip:room@{room_host}>;tag=from-{call_id}",
        f"Call-ID: {call_id}",
        f"CSeq: 7 {method}",
    ]


async def test_the_callers_own_record_route_does_not_steer_requests_posing_as_the_callee(
    zone: ZoneServer,
) -> None:
    """The caller's Record-Route is the caller's to choose: a request toward the caller must
    come from the callee's side, or a caller could send INVITEs to any host in our name."""
    async with (
        peer(FarEnd) as far,
        peer(host="127.0.0.2") as room,
        peer() as victim,
        running_gateway(config(zone, far), OPTIONS) as gw,
    ):
        gw_addr = gw_address(gw)
        steer = f"Record-Route: <sip:127.0.0.1:{victim.port};lr>"
        room.send(request("INVITE", MEET_URI, room, call_id="steer-1", extra=steer), gw_addr)
        await room.until(lambda: any(r.status == 200 for r in room.responses("steer-1")))
        ok = next(r for r in room.responses("steer-1") if r.status == 200)
        far_tag = ok.to.tag or ""
        # the callee's route set toward the caller: the Record-Route in order (ours, then the
        # entry the caller planted)
        routes = ok.values("Record-Route")
        assert routes[-1] == f"<sip:127.0.0.1:{victim.port};lr>"
        contact = f"sip:far@127.0.0.1:{far.port}"
        ours = tuple(v for v in reversed(routes) if "otj-dlg=" in v)  # its planted hop skipped
        room.send(
            request("ACK", contact, room, call_id="steer-1", to_tag=far_tag, routes=ours), gw_addr
        )
        await far.until(lambda: far.requests("ACK"))
        elsewhere = PSTN.format(port=victim.port)
        for method in ("INVITE", "MESSAGE", "ACK"):
            lines = posing_as_callee(
                method, elsewhere, room.host, room.port, call_id="steer-1", far_tag=far_tag
            )
            lines += [f"Route: {v}" for v in routes]
            room.send("\r\n".join([*lines, "Content-Length: 0", "", ""]), gw_addr)
        await settle(1.0)
        assert victim.inbox == [], "a request posing as the callee reached the caller's host"
        await room.until(
            lambda: len([r for r in room.responses("steer-1") if r.cseq.number == 7]) == 2
        )
        refused = [r for r in room.responses("steer-1") if r.cseq.number == 7]
        assert {r.status for r in refused} == {403}


async def test_a_token_does_not_open_another_callers_dialog_with_the_same_call_id(
    zone: ZoneServer,
) -> None:
    """Two callers may use one Call-ID; the token of the first must not pass a request into
    the second's dialog (the token is checked against the dialog it is used for)."""
    async with (
        peer(FarEnd) as far,
        peer(host="127.0.0.2") as attacker,
        peer() as victim,
        running_gateway(config(zone, far), OPTIONS) as gw,
    ):
        gw_addr = gw_address(gw)
        own = request("INVITE", MEET_URI, attacker, call_id="shared-1").replace(
            "tag=from-shared-1", "tag=attacker"
        )
        attacker.send(own, gw_addr)
        await attacker.until(lambda: any(r.status == 200 for r in attacker.responses("shared-1")))
        ok = next(r for r in attacker.responses("shared-1") if r.status == 200)
        token_routes = tuple(reversed(ok.values("Record-Route")))
        victim.send(request("INVITE", MEET_URI, victim, call_id="shared-1"), gw_addr)
        await victim.until(lambda: any(r.status == 200 for r in victim.responses("shared-1")))
        # a BYE in the victim's name (its From tag), carrying the attacker's token (its To tag)
        bye = request(
            "BYE",
            f"sip:far@127.0.0.1:{far.port}",
            attacker,
            call_id="shared-1",
            to_tag="attacker",
            routes=token_routes,
            cseq=5,
        )
        assert ";tag=from-shared-1" in bye
        assert ";tag=attacker" in bye
        attacker.send(bye, gw_addr)
        await attacker.until(
            lambda: any(r.cseq.method == "BYE" for r in attacker.responses("shared-1"))
        )
        await settle()
        assert far.requests("BYE") == [], "the attacker's token ended the victim's call"
        answer = next(r for r in attacker.responses("shared-1") if r.cseq.method == "BYE")
        assert answer.status == 403
        live = [c for c in gw.recorder.calls.values() if c.call_id == "shared-1" and c.live]
        assert len(live) == 2


async def test_a_callee_side_route_set_does_not_carry_another_request_uri(
    zone: ZoneServer,
) -> None:
    """With a route set toward the callee, the Request-URI must still be the dialog's remote
    target: the loose router on that route set would forward to whatever it names."""
    async with (
        peer(RecordRoutingFarEnd) as far,
        peer(host="127.0.0.2") as room,
        peer() as victim,
        running_gateway(config(zone, far), OPTIONS) as gw,
    ):
        gw_addr = gw_address(gw)
        room.send(request("INVITE", MEET_URI, room, call_id="sbc-1"), gw_addr)
        await room.until(lambda: any(r.status == 200 for r in room.responses("sbc-1")))
        ok = next(r for r in room.responses("sbc-1") if r.status == 200)
        routes = tuple(reversed(ok.values("Record-Route")))
        assert routes[-1] == f"<sip:127.0.0.1:{far.port};lr>"
        contact = f"sip:far@127.0.0.1:{far.port}"
        room.send(
            request("ACK", contact, room, call_id="sbc-1", to_tag="far-rr", routes=routes),
            gw_addr,
        )
        await far.until(lambda: far.requests("ACK"))
        for n, method in enumerate(("INVITE", "MESSAGE"), start=2):
            uri = PSTN.format(port=victim.port)
            data = request(
                method, uri, room, call_id="sbc-1", to_tag="far-rr", routes=routes, cseq=n
            )
            room.send(data, gw_addr)
        await room.until(
            lambda: len([r for r in room.responses("sbc-1") if r.cseq.number > 1]) == 2
        )
        refused = [r for r in room.responses("sbc-1") if r.cseq.number > 1]
        assert {r.status for r in refused} == {403}
        assert [r.uri for r in far.requests()] == [MEET_URI, contact], "another Request-URI passed"
        # the dialog itself still works along that route set
        room.send(
            request("BYE", contact, room, call_id="sbc-1", to_tag="far-rr", routes=routes, cseq=4),
            gw_addr,
        )
        await room.until(lambda: any(r.cseq.method == "BYE" for r in room.responses("sbc-1")))
        bye = far.requests("BYE")[0]
        assert bye.get("Route") == f"<sip:127.0.0.1:{far.port};lr>"
        assert (await gw.ended("sbc-1")).cause == "completed"


async def test_a_second_call_id_or_to_header_is_refused_not_forwarded(zone: ZoneServer) -> None:
    """The gateway checks the token against the first Call-ID and To; a next hop reading the
    last would act on another dialog: a repeated single-valued header is a 400 (§7.3.1)."""
    async with (
        peer(FarEnd) as far,
        peer(host="127.0.0.2") as room,
        running_gateway(config(zone, far), OPTIONS) as gw,
    ):
        gw_addr = gw_address(gw)
        room.send(request("INVITE", MEET_URI, room, call_id="dup-1"), gw_addr)
        await room.until(lambda: any(r.status == 200 for r in room.responses("dup-1")))
        ok = next(r for r in room.responses("dup-1") if r.status == 200)
        routes = tuple(reversed(ok.values("Record-Route")))
        tag = ok.to.tag or ""
        contact = f"sip:far@127.0.0.1:{far.port}"
        for n, extra in enumerate(("i: victim-call", f"t: <sip:x@y>;tag={tag}x"), start=2):
            data = request(
                "MESSAGE", contact, room, call_id="dup-1", to_tag=tag, routes=routes, cseq=n
            )
            room.send(data.replace("Content-Length: 0", f"{extra}\r\nContent-Length: 0"), gw_addr)
        await room.until(lambda: len([r for r in room.responses() if r.cseq.number > 1]) == 2)
        await settle()
        assert [r.status for r in room.responses() if r.cseq.number > 1] == [400, 400]
        assert far.requests("MESSAGE") == []


async def test_requests_toward_the_caller_go_to_the_callers_address_only(
    zone: ZoneServer,
) -> None:
    """Even from the callee's own address (a forged UDP source address: here another socket on
    the far end's host), a request in the callee's name goes to the caller's address only,
    never where the caller's planted Record-Route points."""
    async with (
        peer(FarEnd) as far,
        peer(host="127.0.0.2") as room,
        peer() as forger,  # 127.0.0.1, the far end's address
        peer(host="127.0.0.3") as victim,
        running_gateway(config(zone, far), OPTIONS) as gw,
    ):
        gw_addr = gw_address(gw)
        # the caller plants both its route set and its Contact on the victim
        steer = f"Record-Route: <sip:127.0.0.3:{victim.port};lr>"
        invite = request("INVITE", MEET_URI, room, call_id="forge-1", extra=steer).replace(
            f"Contact: <sip:room@{room.host}:{room.port}>",
            f"Contact: <sip:+15551234567@127.0.0.3:{victim.port}>",
        )
        assert "127.0.0.3" in invite.split("Contact:")[1]
        room.send(invite, gw_addr)
        await room.until(lambda: any(r.status == 200 for r in room.responses("forge-1")))
        ok = next(r for r in room.responses("forge-1") if r.status == 200)
        far_tag = ok.to.tag or ""
        routes = ok.values("Record-Route")
        ours = tuple(v for v in reversed(routes) if "otj-dlg=" in v)
        contact = f"sip:far@127.0.0.1:{far.port}"
        room.send(
            request("ACK", contact, room, call_id="forge-1", to_tag=far_tag, routes=ours), gw_addr
        )
        await far.until(lambda: far.requests("ACK"))
        elsewhere = f"sip:+15551234567@127.0.0.3:{victim.port}"
        for method in ("INVITE", "MESSAGE", "ACK"):
            lines = posing_as_callee(
                method, elsewhere, forger.host, forger.port, call_id="forge-1", far_tag=far_tag
            )
            lines += [f"Route: {v}" for v in routes]
            forger.send("\r\n".join([*lines, "Content-Length: 0", "", ""]), gw_addr)
        await settle(1.0)
        assert victim.inbox == [], "a forged callee request reached the caller's planted host"
        await forger.until(lambda: len(forger.responses("forge-1")) == 2)
        assert {r.status for r in forger.responses("forge-1")} == {403}


@dataclass
class StrictFarEnd(Peer):
    """A far end that keeps its dialogs' remote CSeq: a request out of order gets a 500 and
    changes nothing (RFC 3261 §12.2.2), so a BYE with an old CSeq does not end the call."""

    cseqs: dict[str, int] = field(default_factory=dict)

    def on_message(self, msg: Message, addr: tuple[str | int, int]) -> None:
        if not isinstance(msg, Request) or msg.method == "ACK":
            return
        last = self.cseqs.get(msg.call_id)
        number = msg.cseq.number
        status = 500 if last is not None and number <= last else 200
        if status == 200:
            self.cseqs[msg.call_id] = number
        headers = [("Record-Route", v) for v in msg.values("Record-Route")]
        headers.append(("Contact", f"<sip:far@127.0.0.1:{self.port}>"))
        response = make_response(msg, status, to_tag="far-strict", headers=tuple(headers))
        self.send(response.to_bytes(), (str(addr[0]), int(addr[1])))


async def test_a_bye_the_far_end_refuses_does_not_give_the_licences_back(
    zone: ZoneServer,
) -> None:
    """A caller that sends a BYE the far end refuses (500 for an old CSeq) still has its call:
    the gateway must not give its licences and its per-source share back, or one source
    could keep any number of calls up."""
    async with (
        peer(StrictFarEnd) as far,
        peer(host="127.0.0.2") as room,
        running_gateway(config(zone, far), OPTIONS) as gw,
    ):
        proxy = gw.gateway.proxy
        assert proxy is not None
        gw_addr = gw_address(gw)
        room.send(request("INVITE", MEET_URI, room, call_id="keep-1"), gw_addr)
        await room.until(lambda: any(r.status == 200 for r in room.responses("keep-1")))
        ok = next(r for r in room.responses("keep-1") if r.status == 200)
        routes = tuple(reversed(ok.values("Record-Route")))
        contact = f"sip:far@127.0.0.1:{far.port}"

        def in_dialog(method: str, cseq: int) -> str:
            return request(
                method,
                contact,
                room,
                call_id="keep-1",
                to_tag="far-strict",
                routes=routes,
                cseq=cseq,
            )

        room.send(in_dialog("ACK", 1), gw_addr)
        room.send(in_dialog("MESSAGE", 5), gw_addr)
        await room.until(lambda: any(r.cseq.number == 5 for r in room.responses("keep-1")))
        assert proxy.licences.in_use == 2
        room.send(in_dialog("BYE", 2), gw_addr)  # out of order: the far end answers 500
        await room.until(lambda: any(r.cseq.method == "BYE" for r in room.responses("keep-1")))
        assert [r.status for r in room.responses("keep-1") if r.cseq.method == "BYE"] == [500]
        await settle()
        assert proxy.licences.in_use == 2, "the call is up at the far end but holds no licence"
        assert proxy.sources.held("127.0.0.2") == 1
        assert [c.live for c in gw.recorder.calls.values() if c.call_id == "keep-1"] == [True]
        room.send(in_dialog("BYE", 6), gw_addr)  # in order: the call ends
        await room.until(
            lambda: len([r for r in room.responses("keep-1") if r.cseq.method == "BYE"]) == 2
        )
        assert (await gw.ended("keep-1")).cause == "completed"
        assert proxy.licences.in_use == 0
        assert proxy.sources.held("127.0.0.2") == 0


@dataclass
class Device(Peer):
    """A registered room device (its credentials stolen) that answers with a planted Contact."""

    contact: str = ""

    def on_message(self, msg: Message, addr: tuple[str | int, int]) -> None:
        if not isinstance(msg, Request) or msg.method == "ACK":
            return
        headers = [("Record-Route", v) for v in msg.values("Record-Route")]
        headers.append(("Contact", f"<{self.contact}>"))
        response = make_response(msg, 200, to_tag="dev", headers=tuple(headers))
        self.send(response.to_bytes(), (str(addr[0]), int(addr[1])))


def register(device: Peer, user: str, auth: str = "") -> str:
    lines = [
        "REGISTER sip:otj.example.com SIP/2.0",
        f"Via: SIP/2.0/UDP {device.host}:{device.port};branch=z9hG4bK-reg{len(auth)};rport",
        f"From: <sip:{user}@otj.example.com>;tag=reg",
        f"To: <sip:{user}@otj.example.com>",
        "Call-ID: reg-dev",
        f"CSeq: {2 if auth else 1} REGISTER",
        f"Contact: <sip:{user}@{device.host}:{device.port}>",
        "Expires: 600",
        *([f"Authorization: {auth}"] if auth else []),
    ]
    return "\r\n".join([*lines, "Content-Length: 0", "", ""])


def digest(challenge: Response, user: str, password: str) -> str:
    """The client's answer to the MD5 challenge (RFC 2617 / 7616)."""
    for value in challenge.get_all("WWW-Authenticate"):
        params = parse_auth_params(value.removeprefix("Digest "))
        if params.get("algorithm", "MD5") == "MD5":
            break
    creds = DigestCredentials(
        username=user,
        realm=params["realm"],
        nonce=params["nonce"],
        uri="sip:otj.example.com",
        response="",
        algorithm="MD5",
        cnonce="c0ffee",
        qop="auth",
        nc="00000001",
    )
    answer = expected_response(creds, method="REGISTER", password=password)
    return (
        f'Digest username="{user}", realm="{creds.realm}", nonce="{creds.nonce}", '
        f'uri="sip:otj.example.com", response="{answer}", algorithm=MD5, '
        'cnonce="c0ffee", qop=auth, nc=00000001'
    )


async def test_a_registered_devices_contact_does_not_take_the_dialog_elsewhere(
    zone: ZoneServer,
) -> None:
    """A registered device is reached at the address it registered from; its 2xx Contact
    (anything it likes) must not send the caller's in-dialog requests to another host."""
    fjord = Endpoint(
        name="Oslo Fjord",
        group="g",
        room_resource_email="fjord@r.example.com",
        sip_username="fjord",
        sip_password=Secret("pw-fjord"),
    )
    rooms = CallRoutingRule(
        name="Rooms", priority=5, match_string=r"fjord@.*", called_device_type="registered"
    )
    async with (
        peer(FarEnd) as far,
        peer(Device, host="127.0.0.3") as device,
        peer(host="127.0.0.2") as room,
        peer() as victim,
    ):
        assert isinstance(device, Device)
        device.contact = f"sip:+15551234567@127.0.0.1:{victim.port}"
        cfg = replace(config(zone, far), rules=(rooms, MEET), endpoints=(fjord,))
        async with running_gateway(cfg, OPTIONS) as gw:
            gw_addr = gw_address(gw)
            device.send(register(device, "fjord"), gw_addr)
            await device.until(lambda: any(r.status == 401 for r in device.responses("reg-dev")))
            challenge = next(r for r in device.responses("reg-dev") if r.status == 401)
            device.send(register(device, "fjord", digest(challenge, "fjord", "pw-fjord")), gw_addr)
            await device.until(lambda: any(r.status == 200 for r in device.responses("reg-dev")))
            room.send(
                request("INVITE", "sip:fjord@otj.example.com", room, call_id="dev-1"), gw_addr
            )
            await room.until(lambda: any(r.status == 200 for r in room.responses("dev-1")))
            assert device.requests("INVITE")
            ok = next(r for r in room.responses("dev-1") if r.status == 200)
            routes = tuple(reversed(ok.values("Record-Route")))
            for n, method in enumerate(("MESSAGE", "INVITE"), start=2):
                room.send(
                    request(
                        method,
                        device.contact,
                        room,
                        call_id="dev-1",
                        to_tag="dev",
                        routes=routes,
                        cseq=n,
                    ),
                    gw_addr,
                )
            await settle(1.0)
            assert victim.inbox == [], "the device's Contact took the dialog to another host"
            await room.until(
                lambda: len([r for r in room.responses("dev-1") if r.cseq.number > 1]) == 2
            )
            assert {r.status for r in room.responses("dev-1") if r.cseq.number > 1} == {403}


async def test_a_via_maddr_does_not_aim_responses_at_another_host(zone: ZoneServer) -> None:
    """A unicast ``maddr`` in the top Via would let a TCP client that hung up make us connect to
    any host and port (no source address forged): responses go where the request came from
    (maddr is for multicast only, RFC 3261 §18.1.1)."""
    reached: list[bytes] = []

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, TimeoutError):
            reached.append(await asyncio.wait_for(reader.read(4096), 3))
        writer.close()

    victim = await asyncio.start_server(on_connect, "127.0.0.3", 0)
    victim_port = victim.sockets[0].getsockname()[1]
    async with (
        victim,
        peer() as silent,  # the far end never answers: the final response comes 2 s later
        running_gateway(config(zone, silent), OPTIONS) as gw,
    ):
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", gw.tcp_port, local_addr=("127.0.0.2", 0)
        )
        me = writer.get_extra_info("sockname")
        lines = [
            f"INVITE {MEET_URI} SIP/2.0",
            f"Via: SIP/2.0/TCP {me[0]}:{victim_port};branch=z9hG4bK-maddr;maddr=127.0.0.3",
            "Max-Forwards: 70",
            f"From: <sip:room@{me[0]}>;tag=maddr",
            "To: <sip:abc-defg-hij@google.pexip.me>",
            "Call-ID: maddr-1",
            "CSeq: 1 INVITE",
            f"Contact: <sip:room@{me[0]}:{me[1]};transport=tcp>",
            "Content-Length: 0",
        ]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        await writer.drain()
        assert b"100 Trying" in await asyncio.wait_for(reader.read(4096), 5)
        writer.close()  # gone before the final response
        await gw.ended("maddr-1")
        await settle(0.5)
        assert reached == [], "a response was aimed at the maddr of a Via"


@dataclass
class ElsewhereFarEnd(Peer):
    """A far end whose Contact names another address than the one the INVITE reached (a
    conferencing node behind the edge the DNS named)."""

    contact: str = ""

    def on_message(self, msg: Message, addr: tuple[str | int, int]) -> None:
        if not isinstance(msg, Request) or msg.method == "ACK":
            return
        headers = [("Record-Route", v) for v in msg.values("Record-Route")]
        headers.append(("Contact", f"<{self.contact}>"))
        response = make_response(msg, 200, to_tag="far-node", headers=tuple(headers))
        self.send(response.to_bytes(), (str(addr[0]), int(addr[1])))


async def test_a_maddr_in_the_request_uri_does_not_take_the_dialog_elsewhere(
    zone: ZoneServer,
) -> None:
    """``maddr`` overrides the host when a URI is resolved (RFC 3263): a Request-URI that is
    the callee's Contact plus ``;maddr=`` must not lead anywhere else."""
    async with (
        peer(ElsewhereFarEnd) as far,
        peer(host="127.0.0.2") as room,
        peer(host="127.0.0.3") as victim,
        running_gateway(config(zone, far), OPTIONS) as gw,
    ):
        assert isinstance(far, ElsewhereFarEnd)
        node = f"sip:far@127.0.0.4:{victim.port}"  # nobody there; the victim shares the port
        far.contact = node
        gw_addr = gw_address(gw)
        room.send(request("INVITE", MEET_URI, room, call_id="node-1"), gw_addr)
        await room.until(lambda: any(r.status == 200 for r in room.responses("node-1")))
        ok = next(r for r in room.responses("node-1") if r.status == 200)
        routes = tuple(reversed(ok.values("Record-Route")))
        uri = f"sip:+15551234567@127.0.0.4:{victim.port};maddr=127.0.0.3"
        for n, method in enumerate(("INVITE", "MESSAGE"), start=2):
            data = request(
                method, uri, room, call_id="node-1", to_tag="far-node", routes=routes, cseq=n
            )
            room.send(data, gw_addr)
        await settle(1.0)
        assert victim.inbox == [], "a maddr took the dialog to another host"
        await room.until(
            lambda: len([r for r in room.responses("node-1") if r.cseq.number > 1]) == 2
        )
        assert {r.status for r in room.responses("node-1") if r.cseq.number > 1} == {403}


async def test_a_far_end_bye_in_the_lobby_to_a_vanished_caller_is_not_admitted(
    zone: ZoneServer,
) -> None:
    """The call ends when the BYE's transaction does (here Timer F: the caller is gone), but
    whether the guest was admitted is decided by when the far end hung up."""
    clock = ManualClock()
    async with (
        peer(FarEnd) as far,
        peer(host="127.0.0.2") as room,  # never answers the BYE
        running_gateway(config(zone, far), OPTIONS, clock=clock) as gw,
    ):
        gw_addr = gw_address(gw)
        room.send(request("INVITE", MEET_URI, room, call_id="gone-1"), gw_addr)
        await room.until(lambda: any(r.status == 200 for r in room.responses("gone-1")))
        ok = next(r for r in room.responses("gone-1") if r.status == 200)
        tag = ok.to.tag or ""
        routes = tuple(reversed(ok.values("Record-Route")))
        contact = f"sip:far@127.0.0.1:{far.port}"
        room.send(
            request("ACK", contact, room, call_id="gone-1", to_tag=tag, routes=routes), gw_addr
        )
        await far.until(lambda: far.requests("ACK"))
        clock.advance(10)
        invite_at_far = far.requests("INVITE")[0]
        bye = "\r\n".join(
            [
                f"BYE sip:room@{room.host}:{room.port} SIP/2.0",
                f"Via: SIP/2.0/UDP 127.0.0.1:{far.port};branch=z9hG4bK-gone;rport",
                "Max-Forwards: 70",
                *(f"Route: {v}" for v in invite_at_far.values("Record-Route")),
                f"From: <sip:abc-defg-hij@google.pexip.me>;tag={tag}",
                f"To: <sip:room@{room.host}>;tag=from-gone-1",
                "Call-ID: gone-1",
                "CSeq: 1 BYE",
                "Content-Length: 0",
                "",
                "",
            ]
        )
        far.send(bye, gw_addr)
        await room.until(lambda: room.requests("BYE"))
        assert [c.live for c in gw.recorder.calls.values() if c.call_id == "gone-1"] == [True]
        for _ in range(17):  # Timer F (64*T1) runs out: nobody answered the BYE
            clock.advance(2)
            await settle(0.02)
        call = await gw.ended("gone-1")
        assert call.cause == "not_admitted"


async def test_a_strict_route_to_garbage_draws_one_response(zone: ZoneServer) -> None:
    """A Request-URI naming us as a strict router with a last Route that is no URI must be
    refused like any other bad in-dialog request: one response, never retransmitted."""
    clock = ManualClock()
    async with (
        peer(FarEnd) as far,
        peer(host="127.0.0.2") as attacker,
        running_gateway(config(zone, far), OPTIONS, clock=clock) as gw,
    ):
        gw_host, gw_port = gw_address(gw)
        data = request(
            "INVITE",
            f"sip:{gw_host}:{gw_port};lr",
            attacker,
            call_id="strict-1",
            to_tag="x",
            routes=("<garbage>",),
        )
        attacker.send(data, (gw_host, gw_port))
        await attacker.until(attacker.responses)
        for _ in range(8):  # Timers G and H, never ACKed: nothing more may come
            clock.advance(5)
            await settle(0.05)
        await settle()
        assert len(attacker.responses()) == 1
        assert attacker.responses()[0].status in (403, 481)
        assert far.requests() == []


async def test_a_strict_router_reaches_the_dialog_and_nothing_else(zone: ZoneServer) -> None:
    """A strict router (RFC 2543) puts our Record-Route URI, token and all, into the
    Request-URI and the remote target into the last Route (§16.4): that reaches the dialog's
    far end; a last Route naming another host does not."""
    async with (
        peer(FarEnd) as far,
        peer(host="127.0.0.2") as room,
        peer(host="127.0.0.3") as victim,
        running_gateway(config(zone, far), OPTIONS) as gw,
    ):
        gw_addr = gw_address(gw)
        room.send(request("INVITE", MEET_URI, room, call_id="strict-2"), gw_addr)
        await room.until(lambda: any(r.status == 200 for r in room.responses("strict-2")))
        ok = next(r for r in room.responses("strict-2") if r.status == 200)
        tag = ok.to.tag or ""
        ours = ok.values("Record-Route")[-1].strip("<>")
        contact = f"sip:far@127.0.0.1:{far.port}"
        elsewhere = f"<sip:+15551234567@127.0.0.3:{victim.port}>"
        for n, last in enumerate((elsewhere, f"<{contact}>"), start=2):
            data = request(
                "MESSAGE", ours, room, call_id="strict-2", to_tag=tag, routes=(last,), cseq=n
            )
            room.send(data, gw_addr)
        await room.until(
            lambda: len([r for r in room.responses("strict-2") if r.cseq.number > 1]) == 2
        )
        answers = {r.cseq.number: r.status for r in room.responses("strict-2") if r.cseq.number > 1}
        assert answers == {2: 403, 3: 200}
        assert victim.inbox == []
        message = far.requests("MESSAGE")
        assert [m.uri for m in message] == [contact]
        assert message[0].get("Route") is None
