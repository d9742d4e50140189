"""RFC 3261 §17 transactions on a manual clock: Timers A–K, matching, RFC 6026 Accepted."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from guestjoin.sip import Message, Request, Response, make_response, parse_message
from guestjoin.sip.headers import Via
from guestjoin.transaction.client import ClientTransaction
from guestjoin.transaction.layer import TransactionLayer
from guestjoin.transaction.server import ServerTransaction
from guestjoin.transaction.timers import State
from guestjoin.values import Received, Target
from tests.unit.gateway.support import ManualClock


class Wire:
    """Records what the transaction layer sends (the seam below it)."""

    def __init__(self) -> None:
        self.sent: list[tuple[float, bytes]] = []
        self.clock: ManualClock | None = None

    def send_datagram(self, data: bytes, host: str, port: int) -> None:
        assert self.clock is not None
        self.sent.append((self.clock.now(), data))

    async def send(self, data: bytes, target: Target) -> None:
        self.send_datagram(data, target.host, target.port)

    def send_response(self, data: bytes, via: Via, received: Received | None) -> None:
        self.send_datagram(data, "", 0)

    def starts(self, prefix: bytes) -> list[float]:
        start = self.sent[0][0] if self.sent else 0.0
        return [t - start for t, d in self.sent if d.startswith(prefix)]


class User:
    def __init__(self) -> None:
        self.requests: list[tuple[Request, ServerTransaction | None]] = []
        self.stray: list[Response] = []

    def on_request(
        self, request: Request, received: Received, st: ServerTransaction | None
    ) -> None:
        self.requests.append((request, st))

    def on_stray_response(self, response: Response, received: Received) -> None:
        self.stray.append(response)


UDP = Received(transport="udp", remote=("192.0.2.10", 5060), local=("192.0.2.1", 5060))
TCP = Received(transport="tcp", remote=("192.0.2.10", 40000), local=("192.0.2.1", 5060))


def request(method: str = "INVITE", branch: str = "z9hG4bK-1") -> Request:
    msg = parse_message(
        (
            f"{method} sip:abc-defg-hij@google.pexip.me SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 192.0.2.10:5060;branch={branch}\r\n"
            "Max-Forwards: 70\r\nFrom: <sip:a@b>;tag=f1\r\n"
            "To: <sip:abc-defg-hij@google.pexip.me>\r\n"
            f"Call-ID: c1\r\nCSeq: 1 {method}\r\nRoute: <sip:p1;lr>\r\nContent-Length: 0\r\n\r\n"
        ).encode()
    )
    assert isinstance(msg, Request)
    return msg


@pytest.fixture
def setup() -> tuple[ManualClock, Wire, TransactionLayer, User]:
    clock = ManualClock()
    wire = Wire()
    wire.clock = clock
    layer = TransactionLayer(wire, clock)
    user = User()
    layer.user = user
    return clock, wire, layer, user


Setup = tuple[ManualClock, Wire, TransactionLayer, User]


def client(
    layer: TransactionLayer, req: Request, transport: str = "udp"
) -> tuple[ClientTransaction, list[int], list[str]]:
    statuses: list[int] = []
    failures: list[str] = []
    ct = layer.start_client(
        req,
        Target(transport=transport, host="198.51.100.7", port=5060),
        lambda _ct, r: statuses.append(r.status),
        lambda _ct, why: failures.append(why),
    )
    return ct, statuses, failures


def deliver(layer: TransactionLayer, msg: Message, received: Received = UDP) -> None:
    layer.handle(msg, received)


def test_invite_client_timer_a_doubles_and_timer_b_times_out(setup: Setup) -> None:
    clock, wire, layer, user = setup
    req = request()
    ct, statuses, failures = client(layer, req)
    clock.advance(40)
    assert wire.starts(b"INVITE") == [0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5]
    assert failures == ["timeout"]
    assert ct.state is State.TERMINATED
    deliver(layer, make_response(req, 180, to_tag="t"))  # forgotten: a late answer is stray
    assert statuses == []
    assert len(user.stray) == 1


def test_invite_client_provisional_stops_retransmissions_and_timer_b(setup: Setup) -> None:
    clock, wire, layer, _ = setup
    req = request()
    ct, statuses, failures = client(layer, req)
    clock.advance(0.7)
    deliver(layer, make_response(req, 180, to_tag="t"))
    clock.advance(100)
    assert wire.starts(b"INVITE") == [0, 0.5]
    assert statuses == [180]
    assert failures == []
    assert ct.state is State.PROCEEDING


def test_invite_client_acks_a_failure_and_reacks_retransmissions(setup: Setup) -> None:
    clock, wire, layer, _ = setup
    req = request()
    ct, statuses, _ = client(layer, req)
    busy = make_response(req, 486, to_tag="uas")
    deliver(layer, busy)
    acks = [parse_message(d) for _, d in wire.sent if d.startswith(b"ACK")]
    assert len(acks) == 1
    ack = acks[0]
    assert isinstance(ack, Request)
    assert ack.uri == req.uri
    assert ack.to.tag == "uas"
    assert str(ack.cseq) == "1 ACK"
    assert ack.top_via.branch == "z9hG4bK-1"
    assert ack.values("Route") == ["<sip:p1;lr>"]
    deliver(layer, busy)  # retransmitted 486
    assert len(wire.starts(b"ACK")) == 2
    assert statuses == [486]  # passed up once
    assert ct.state is State.COMPLETED
    clock.advance(32)  # Timer D
    assert ct.state is State.TERMINATED


def test_invite_client_2xx_is_accepted_and_2xx_retransmissions_pass_until_timer_m(
    setup: Setup,
) -> None:
    clock, wire, layer, user = setup
    req = request()
    ct, statuses, _ = client(layer, req)
    ok = make_response(req, 200, to_tag="uas")
    deliver(layer, ok)
    assert ct.state is State.ACCEPTED  # RFC 6026 §7.2
    deliver(layer, ok)  # a 2xx retransmission reaches the user through the transaction
    deliver(layer, make_response(req, 486, to_tag="uas"))  # anything else is absorbed
    assert statuses == [200, 200]
    assert user.stray == []
    clock.advance(32)  # Timer M = 64*T1
    assert ct.state is State.TERMINATED
    deliver(layer, ok)  # only now is a 2xx stray
    assert len(user.stray) == 1
    assert not wire.starts(b"ACK")  # the ACK for 2xx is end-to-end
    assert wire.starts(b"INVITE") == [0]  # Timer A stopped with the 2xx


def test_server_stateless_answer_is_sent_once_and_forgotten(setup: Setup) -> None:
    clock, wire, layer, user = setup
    req = request()
    deliver(layer, req)
    st = user.requests[-1][1]
    assert st is not None
    st.respond_statelessly(make_response(req, 404, to_tag="t"))
    assert st.state is State.TERMINATED
    deliver(layer, req)  # forgotten at once: a retransmission is a new request for the user
    assert len(user.requests) == 2
    assert user.requests[-1][1] not in (None, st)
    clock.advance(40)  # no Timer G retransmissions
    assert len(wire.starts(b"SIP/2.0 404")) == 1


def test_non_invite_client_timer_e_caps_at_t2_and_timer_f(setup: Setup) -> None:
    clock, wire, layer, _ = setup
    _ct, _, failures = client(layer, request("BYE"))
    clock.advance(33)
    times = wire.starts(b"BYE")
    assert times[:6] == [0, 0.5, 1.5, 3.5, 7.5, 11.5]
    assert all(b - a == 4 for a, b in itertools.pairwise(times[3:]))
    assert failures == ["timeout"]


def test_non_invite_client_proceeding_retransmits_every_t2(setup: Setup) -> None:
    clock, wire, layer, _ = setup
    req = request("OPTIONS")
    ct, statuses, _ = client(layer, req)
    deliver(layer, make_response(req, 100))
    clock.advance(9)
    assert wire.starts(b"OPTIONS") == [0, 0.5, 4.5, 8.5]
    deliver(layer, make_response(req, 200))
    assert statuses == [100, 200]
    clock.advance(5)  # Timer K
    assert ct.state is State.TERMINATED


async def test_reliable_client_sends_once() -> None:
    clock = ManualClock()
    wire = Wire()
    wire.clock = clock
    layer = TransactionLayer(wire, clock)
    layer.user = User()
    req = request("BYE")
    _, _, failures = client(layer, req, "tcp")
    await asyncio.sleep(0)
    clock.advance(31)
    assert len(wire.starts(b"BYE")) == 1
    clock.advance(2)
    assert failures == ["timeout"]


def test_invite_server_retransmits_failure_until_ack(setup: Setup) -> None:
    clock, wire, layer, user = setup
    req = request()
    deliver(layer, req)
    ((_, st),) = user.requests
    assert st is not None
    st.respond(make_response(req, 100))
    deliver(layer, req)  # retransmitted INVITE → last provisional again
    assert len(wire.starts(b"SIP/2.0 100")) == 2
    acks: list[Request] = []
    st.on_ack = acks.append
    st.respond(make_response(req, 486, to_tag="x"))
    first = clock.now()
    clock.advance(2)  # Timer G: 0.5, 1.5
    sent_486 = [t - first for t, d in wire.sent if d.startswith(b"SIP/2.0 486")]
    assert sent_486 == [0, 0.5, 1.5]
    ack = parse_message(
        req.to_bytes().replace(b"INVITE sip", b"ACK sip").replace(b"1 INVITE", b"1 ACK")
    )
    deliver(layer, ack)
    assert st.state is State.CONFIRMED
    assert len(acks) == 1
    assert len(user.requests) == 1  # the ACK was absorbed
    clock.advance(10)
    assert len(wire.starts(b"SIP/2.0 486")) == 3
    assert st.state is State.TERMINATED


def test_invite_server_timer_h_without_ack(setup: Setup) -> None:
    clock, wire, layer, user = setup
    req = request()
    deliver(layer, req)
    st = user.requests[0][1]
    assert st is not None
    st.respond(make_response(req, 480, to_tag="x"))
    clock.advance(31.9)
    assert st.state is State.COMPLETED
    clock.advance(0.2)
    assert st.state is State.TERMINATED
    # G doubled up to T2: 0, .5, 1.5, 3.5, 7.5, 11.5, ...
    times = wire.starts(b"SIP/2.0 480")
    assert times[:5] == [0, 0.5, 1.5, 3.5, 7.5]


def test_invite_server_accepted_absorbs_retransmissions_and_passes_2xx(setup: Setup) -> None:
    clock, wire, layer, user = setup
    req = request()
    deliver(layer, req)
    st = user.requests[0][1]
    assert st is not None
    ok = make_response(req, 200, to_tag="x")
    st.respond(ok)
    assert st.state is State.ACCEPTED
    deliver(layer, req)  # retransmitted INVITE: absorbed, no resend (RFC 6026 §8.7)
    assert len(wire.starts(b"SIP/2.0 200")) == 1
    st.respond(ok)  # a 2xx retransmission from downstream passes
    assert len(wire.starts(b"SIP/2.0 200")) == 2
    st.respond(make_response(req, 500))  # non-2xx in Accepted is dropped
    assert not wire.starts(b"SIP/2.0 500")
    ack = parse_message(
        req.to_bytes().replace(b"INVITE sip", b"ACK sip").replace(b"1 INVITE", b"1 ACK")
    )
    deliver(layer, ack)
    assert user.requests[-1] == (ack, None)  # the 2xx ACK goes to the proxy core
    clock.advance(32)  # Timer L
    assert st.state is State.TERMINATED


def test_non_invite_server_resends_last_response_then_timer_j(setup: Setup) -> None:
    clock, wire, layer, user = setup
    req = request("BYE")
    deliver(layer, req)
    st = user.requests[0][1]
    assert st is not None
    deliver(layer, req)  # nothing to resend yet
    assert wire.sent == []
    st.respond(make_response(req, 200))
    deliver(layer, req)
    assert len(wire.starts(b"SIP/2.0 200")) == 2
    assert len(user.requests) == 1
    clock.advance(32)
    assert st.state is State.TERMINATED


def test_non_invite_server_over_tcp_ends_at_once(setup: Setup) -> None:
    clock, _wire, layer, user = setup
    req = request("BYE")
    deliver(layer, req, TCP)
    st = user.requests[0][1]
    assert st is not None
    st.respond(make_response(req, 200))
    clock.advance(0)
    assert st.state is State.TERMINATED


def test_cancel_finds_the_invite_server_transaction(setup: Setup) -> None:
    _, _, layer, user = setup
    inv = request()
    deliver(layer, inv)
    cancel = request("CANCEL")
    deliver(layer, cancel)
    assert [r.method for r, _ in user.requests] == ["INVITE", "CANCEL"]
    assert layer.find_invite_server(cancel) is user.requests[0][1]
    other = request("CANCEL", branch="z9hG4bK-other")
    assert layer.find_invite_server(other) is None
