"""A password guesser at a live gateway: REGISTERs with wrong digests as fast as the gateway
answers (bounded in count and time) get locked out, while the room registers with the right
password from its own address."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest

from guestjoin.config import GatewayConfig
from guestjoin.gateway import GatewayOptions
from guestjoin.sip import Response, parse_message
from guestjoin.sip.digest import DigestCredentials, expected_response, parse_auth_params
from otj.model import Endpoint
from otj.secret import Secret

from .peers import running_gateway

pytestmark = [pytest.mark.peer]

ROOM = Endpoint(
    name="Oslo Fjord",
    group="g",
    room_resource_email="fjord@r.example.com",
    sip_username="fjord",
    sip_password=Secret("pw-fjord"),
)


class Registering:
    """A UDP REGISTER client bound to one local address."""

    def __init__(self, source: str, gateway: tuple[str, int]) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((source, 0))
        self.sock.setblocking(False)
        self.gateway = gateway
        self.host, self.port = self.sock.getsockname()
        self.cseq = 0

    def close(self) -> None:
        self.sock.close()

    async def register(self, auth: str | None = None) -> Response:
        self.cseq += 1
        lines = [
            "REGISTER sip:127.0.0.1 SIP/2.0",
            f"Via: SIP/2.0/UDP {self.host}:{self.port};branch=z9hG4bK-g{self.cseq};rport",
            "Max-Forwards: 70",
            "From: <sip:fjord@127.0.0.1>;tag=g1",
            "To: <sip:fjord@127.0.0.1>",
            f"Call-ID: guess-{self.host}",
            f"CSeq: {self.cseq} REGISTER",
            f"Contact: <sip:fjord@{self.host}:{self.port}>",
            "Expires: 600",
        ]
        if auth:
            lines.append(f"Authorization: {auth}")
        data = ("\r\n".join(lines) + "\r\nContent-Length: 0\r\n\r\n").encode()
        loop = asyncio.get_running_loop()
        await loop.sock_sendto(self.sock, data, self.gateway)
        while True:
            reply = parse_message(await asyncio.wait_for(loop.sock_recv(self.sock, 65535), 5))
            assert isinstance(reply, Response)
            if reply.cseq.number == self.cseq:
                return reply


def digest(challenge: Response, password: str, nc: int) -> str:
    """The SHA-256 Authorization a client computes for the challenge (RFC 8760)."""
    params = next(
        p
        for p in (
            parse_auth_params(v.removeprefix("Digest "))
            for v in challenge.get_all("WWW-Authenticate")
        )
        if p["algorithm"] == "SHA-256"
    )
    creds = DigestCredentials(
        username="fjord",
        realm=params["realm"],
        nonce=params["nonce"],
        uri="sip:127.0.0.1",
        response="",
        algorithm="SHA-256",
        cnonce="c0ffee",
        qop="auth",
        nc=f"{nc:08x}",
    )
    response = expected_response(creds, method="REGISTER", password=password)
    return (
        f'Digest username="fjord", realm="{creds.realm}", nonce="{creds.nonce}", '
        f'uri="sip:127.0.0.1", response="{response}", algorithm=SHA-256, '
        f'cnonce="c0ffee", qop=auth, nc={creds.nc}'
    )


async def test_a_fast_guesser_is_locked_out_and_the_room_still_registers() -> None:
    config = GatewayConfig(endpoints=(ROOM,))
    async with running_gateway(config, GatewayOptions(reload_interval=0)) as gw:
        host, port = gw.udp.split(":")
        guesser = Registering("127.0.0.1", (host, int(port)))
        room = Registering("127.0.0.2", (host, int(port)))
        try:
            challenge = await guesser.register()
            assert challenge.status == 401
            statuses: list[int] = []
            deadline = time.monotonic() + 10
            for n in range(1, 501):  # bounded in count and time
                reply = await guesser.register(digest(challenge, f"guess-{n}", n))
                statuses.append(reply.status)
                if statuses[-5:] == [503] * 5 or time.monotonic() > deadline:
                    break
            assert statuses[:10] == [403] * 10
            assert statuses[10:] == [503] * 5
            assert reply.reason == "Too Many Failed Authentications"
            assert reply.get("Retry-After") == "300"
            # the right password from the guesser's address is refused too...
            right = await guesser.register(digest(challenge, "pw-fjord", 1000))
            assert right.status == 503
            # ...and the room registers from its own address
            room_challenge = await room.register()
            ok = await room.register(digest(room_challenge, "pw-fjord", 1))
            assert ok.status == 200
            assert gw.gateway.proxy is not None
            binding = gw.gateway.proxy.registrar.binding_for("fjord", "127.0.0.2")
            assert binding is not None
        finally:
            guesser.close()
            room.close()
