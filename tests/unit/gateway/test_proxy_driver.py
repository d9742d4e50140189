"""The asyncio driver with the real transaction layer, no sockets: calls go through, and a
finished call leaves no reference cycles (transactions, timers and the core's forwards are
freed by reference counting, so the gateway needs no long garbage-collector sweeps)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from guestjoin.cdr import MemoryRecorder
from guestjoin.config import GatewayConfig
from guestjoin.core.branch import Call
from guestjoin.core.indialog import InDialog
from guestjoin.dns import SipResolver
from guestjoin.licences import Licences
from guestjoin.proxy import Proxy, ProxyOptions
from guestjoin.registrar import Registrar
from guestjoin.sip import Request, Response, parse_message
from guestjoin.sip.headers import Via
from guestjoin.transaction.client import ClientTransaction
from guestjoin.transaction.layer import TransactionLayer
from guestjoin.transaction.server import ServerTransaction
from guestjoin.values import Received, Target
from otj.model import CallRoutingRule, GatewaySettings
from tests.unit.gateway.support import ManualClock

RULE = CallRoutingRule(
    name="SIP Guest Join",
    priority=10,
    match_string=r"([a-z\-]{10,12})@google\.pexip\.me",
    replace_string=r"\1@127.0.0.2:5062",
)
GW = "127.0.0.1"
ROOM = Received(transport="udp", remote=("127.0.0.9", 5070), local=(GW, 5060))
FAR = Received(transport="udp", remote=("127.0.0.2", 5062), local=(GW, 5060))


class Net:
    """The transport seam: our listener, and everything sent."""

    def __init__(self) -> None:
        self.out: list[bytes] = []

    def is_local(self, host: str, port: int | None, transport: str | None = None) -> bool:
        return host.strip("[]") == GW and (port or 5060) == 5060

    def local_host(self, transport: str, toward: str | None = None) -> tuple[str, int]:
        return GW, 5060

    def send_datagram(self, data: bytes, host: str, port: int) -> None:
        self.out.append(data)

    async def send(self, data: bytes, target: Target) -> None:
        self.out.append(data)

    def send_response(self, data: bytes, via: Via, received: Received | None) -> None:
        self.out.append(data)

    def take(self, start: bytes) -> list[bytes]:
        found = [d for d in self.out if d.startswith(start)]
        self.out.clear()
        return found


def response_to(request: Request, status: int) -> Response:
    lines = [f"SIP/2.0 {status} OK", *(f"Via: {v}" for v in request.values("Via"))]
    lines += [f"From: {request.get('From')}", f"To: {request.get('To')};tag=far"]
    lines += [f"Call-ID: {request.call_id}", f"CSeq: {request.get('CSeq')}"]
    lines += [f"Record-Route: {v}" for v in request.values("Record-Route")]
    lines += ["Contact: <sip:meet@127.0.0.2:5062>", "Content-Length: 0", "", ""]
    response = parse_message("\r\n".join(lines).encode())
    assert isinstance(response, Response)
    return response


def request(text: str) -> Request:
    parsed = parse_message(text.encode())
    assert isinstance(parsed, Request)
    return parsed


def one_call(layer: TransactionLayer, net: Net, n: int) -> None:
    layer.handle(
        request(
            f"INVITE sip:abc-defg-hij@google.pexip.me SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.9:5070;branch=z9hG4bK-{n}a;rport\r\nMax-Forwards: 70\r\n"
            f"From: <sip:room@127.0.0.9>;tag=r{n}\r\nTo: <sip:abc-defg-hij@google.pexip.me>\r\n"
            f"Call-ID: c{n}\r\nCSeq: 1 INVITE\r\nContact: <sip:room@127.0.0.9:5070>\r\n"
            "Content-Length: 0\r\n\r\n"
        ),
        ROOM,
    )
    [forwarded] = net.take(b"INVITE")
    invite = parse_message(forwarded)
    assert isinstance(invite, Request)
    layer.handle(response_to(invite, 180), FAR)
    net.out.clear()
    layer.handle(response_to(invite, 200), FAR)
    [ok] = net.take(b"SIP/2.0 200")
    answer = parse_message(ok)
    routes = "".join(f"Route: {r}\r\n" for r in reversed(answer.values("Record-Route")))
    dialog = (
        f"Max-Forwards: 70\r\nFrom: {answer.get('From')}\r\nTo: {answer.get('To')}\r\n"
        f"Call-ID: c{n}\r\n{routes}"
    )
    via = f"Via: SIP/2.0/UDP 127.0.0.9:5070;branch=z9hG4bK-{n}%s;rport\r\n"
    ack = f"ACK sip:meet@127.0.0.2:5062 SIP/2.0\r\n{via % 'b'}{dialog}CSeq: 1 ACK\r\n\r\n"
    layer.handle(request(ack), ROOM)
    assert net.take(b"ACK")
    bye = f"BYE sip:meet@127.0.0.2:5062 SIP/2.0\r\n{via % 'c'}{dialog}CSeq: 2 BYE\r\n\r\n"
    layer.handle(request(bye), ROOM)
    [forwarded_bye] = net.take(b"BYE")
    bye_out = parse_message(forwarded_bye)
    assert isinstance(bye_out, Request)
    layer.handle(response_to(bye_out, 200), FAR)
    assert net.take(b"SIP/2.0 200")


@pytest.fixture
def saved_garbage() -> Iterator[list[object]]:
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        yield gc.garbage
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()


def test_calls_through_the_driver_leave_no_cycles(saved_garbage: list[object]) -> None:
    clock = ManualClock()
    net = Net()
    layer = TransactionLayer(net, clock)
    config = GatewayConfig(rules=(RULE,), settings=GatewaySettings(max_calls_per_source=0))
    recorder = MemoryRecorder()
    proxy = Proxy(
        transport=net,  # type: ignore[arg-type]
        transactions=layer,
        resolver=SipResolver(clock),
        registrar=Registrar(clock),
        licences=Licences(100),
        recorder=recorder,
        clock=clock,
        config=lambda: config,
        options=ProxyOptions(),
    )
    for n in range(3):
        one_call(layer, net, n)
        clock.advance(0.5)
    assert [c.cause for c in recorder.calls.values()] == ["completed"] * 3
    assert proxy.licences.in_use == 0
    clock.advance(120)  # every transaction and the call tables let go
    gc.collect()
    kinds = (Call, InDialog, ClientTransaction, ServerTransaction)
    assert [type(o).__name__ for o in saved_garbage if isinstance(o, kinds)] == []
    # nor is any of this layer's transactions still held (by its tables or the core's)
    transactions = (ClientTransaction, ServerTransaction)
    held = [o for o in gc.get_objects() if isinstance(o, transactions) and o.layer is layer]
    assert held == []
