"""An in-memory peer pair around ``ProxyCore`` (no sockets): a room on one side, a far end on
the other, a manual clock, a zone for DNS, and a driver that carries out the core's actions the
way ``guestjoin.proxy.Proxy`` does (one FIFO queue, cached DNS answered at once)."""

from __future__ import annotations

import itertools
from collections import deque
from dataclasses import dataclass, field

from guestjoin.cdr import CallRecord, MemoryRecorder
from guestjoin.clock import TimerHandle
from guestjoin.config import GatewayConfig
from guestjoin.core.actions import (
    AbandonClient,
    Action,
    CancelTimer,
    ClientRef,
    RecordCdr,
    Resolve,
    Respond,
    RespondStatelessly,
    SendStateless,
    ServerRef,
    StartClient,
    StartTimer,
)
from guestjoin.core.options import ProxyOptions
from guestjoin.core.proxy import ProxyCore
from guestjoin.dns import DnsFailure
from guestjoin.licences import Licences
from guestjoin.registrar import Registrar
from guestjoin.sip import Request, Response, make_response, parse_message
from guestjoin.values import Received, Target
from otj.model import CallRoutingRule, GatewaySettings
from tests.unit.gateway.support import ManualClock, by_call_id

GATEWAY = "192.0.2.10"
ROOM = ("198.51.100.7", 5060)
FAR_A = Target(transport="udp", host="203.0.113.5", port=5060)
FAR_B = Target(transport="udp", host="203.0.113.6", port=5060)
MEET = "sip:abc-defg-hij@google.pexip.me"
SDP = (
    b"v=0\r\no=room 1 1 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\n"
    b"b=AS:6000\r\nm=audio 4000 RTP/AVP 0\r\n"
)
RULE = CallRoutingRule(
    name="SIP Guest Join", priority=10, match_string=r"[a-z\-]{10,12}@google\.pexip\.me"
)


class Listeners:
    """The gateway listens on udp 192.0.2.10:5060 only."""

    def is_local(self, host: str, port: int | None, transport: str | None = None) -> bool:
        return host.strip("[]") == GATEWAY and (port or 5060) == 5060 and transport in (None, "udp")

    def local_host(self, transport: str, toward: str | None = None) -> tuple[str, int]:
        return GATEWAY, 5060


@dataclass(eq=False)
class Server:
    """A server transaction as the harness keeps it: what was answered on it."""

    request: Request
    responses: list[tuple[Response, bool]] = field(default_factory=list)  # (response, stateless)

    @property
    def final(self) -> Response | None:
        finals = [r for r, _ in self.responses if r.status >= 200]
        return finals[0] if finals else None

    @property
    def statuses(self) -> list[int]:
        return [r.status for r, _ in self.responses]


class Harness:
    """The core, its driver and both peers."""

    def __init__(
        self,
        *,
        licences: int = 100,
        zone: dict[str, tuple[Target, ...] | DnsFailure] | None = None,
        options: ProxyOptions | None = None,
        dns_waits: bool = False,
    ) -> None:
        self.clock = ManualClock()
        self.config = GatewayConfig(
            rules=(RULE,),
            settings=GatewaySettings(call_licenses=licences, max_outbound_kbps=2000),
        )
        self.core = ProxyCore(
            locality=Listeners(),
            registrar=Registrar(self.clock),
            licences=Licences(licences),
            time=self.clock,
            config=lambda: self.config,
            options=options or ProxyOptions(dialog_key=b"k" * 32),
        )
        self.zone = zone if zone is not None else {"google.pexip.me": (FAR_A, FAR_B)}
        self.dns_waits = dns_waits  # lookups wait for answer_dns() (else answered at once)
        self.pending_dns: list[Resolve] = []
        self.far: list[ClientRef] = []  # every request the gateway sent through a transaction
        self.abandoned: list[ClientRef] = []
        self.stateless: list[tuple[Request, Target]] = []  # ACKs forwarded
        self.recorder = MemoryRecorder()
        self.servers: dict[str, Server] = {}  # by the request's top Via branch + method
        self._timers: dict[int, TimerHandle] = {}
        self._queue: deque[Action] = deque()
        self._draining = False
        self._branches = itertools.count(1)

    # --- the driver --------------------------------------------------------------------------
    def run(self, actions: list[Action]) -> None:
        self._queue.extend(actions)
        if self._draining:
            return
        self._draining = True
        try:
            while self._queue:
                self._do(self._queue.popleft())
        finally:
            self._draining = False

    def _do(self, action: Action) -> None:
        core = self.core
        if isinstance(action, Respond | RespondStatelessly):
            server = action.server.handle
            assert isinstance(server, Server)
            server.responses.append((action.response, isinstance(action, RespondStatelessly)))
        elif isinstance(action, StartClient):
            self.far.append(action.client)
        elif isinstance(action, AbandonClient):
            self.abandoned.append(action.client)
        elif isinstance(action, SendStateless):
            self.stateless.append((action.request, action.target))
        elif isinstance(action, StartTimer):
            timer = action.timer
            timer.handle = self.clock.call_later(action.delay, lambda: self.run(core.timer(timer)))
        elif isinstance(action, CancelTimer):
            handle = action.timer.handle
            assert handle is not None, "a timer cancelled before it was started"
            handle.cancel()  # type: ignore[attr-defined]
        elif isinstance(action, Resolve):
            if self.dns_waits:
                self.pending_dns.append(action)
                if action.pending_record is not None:
                    self.recorder.record(action.pending_record)
            else:
                self.run(core.resolved(action.lookup, self._zone_answer(action)))
        elif isinstance(action, RecordCdr):
            self.recorder.record(action.detail)
        else:  # pragma: no cover - every action type is handled above
            raise AssertionError(action)

    def _zone_answer(self, action: Resolve) -> tuple[Target, ...] | Exception:
        host = action.lookup.uri.host_lower
        answer = self.zone.get(host)
        if answer is None:
            return DnsFailure(f"{host}: no such domain", not_found=True)
        return answer

    def answer_dns(self) -> None:
        """Answer every lookup that waits."""
        pending, self.pending_dns = self.pending_dns, []
        for action in pending:
            self.run(self.core.resolved(action.lookup, self._zone_answer(action)))

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)

    # --- peers sending to the gateway -----------------------------------------------------------
    def send(self, data: bytes | Request, source: tuple[str, int] = ROOM) -> Server | None:
        """A request reaches the gateway from ``source``; its server transaction (None: ACK)."""
        request = data if isinstance(data, Request) else parse_message(data)
        assert isinstance(request, Request)
        received = Received(transport="udp", remote=source, local=(GATEWAY, 5060))
        if request.method == "ACK":
            self.run(self.core.request(request, received, None))
            return None
        server = Server(request)
        branch = request.top_via.branch or ""
        self.servers[f"{branch} {request.method}"] = server
        invite = self.servers.get(f"{branch} INVITE") if request.method == "CANCEL" else None
        self.run(self.core.request(request, received, ServerRef(request, server), invite))
        return server

    def respond(
        self,
        client: ClientRef,
        status: int,
        reason: str | None = None,
        *,
        tag: str = "far1",
        contact: str | None = None,
        body: bytes = b"",
        headers: tuple[tuple[str, str], ...] = (),
    ) -> Response:
        """The peer a client transaction went to answers it (Record-Route copied, §12.1.1)."""
        extra = list(headers)
        if 100 < status < 300:
            extra += [("Record-Route", v) for v in client.request.values("Record-Route")]
            host = client.target.host
            extra.append(("Contact", contact or f"<sip:peer@{host}:{client.target.port}>"))
        if body:
            extra.append(("Content-Type", "application/sdp"))
        response = make_response(
            client.request, status, reason, to_tag=tag, headers=tuple(extra), body=body
        )
        self.run(self.core.client_response(client, response))
        return response

    def fail(self, client: ClientRef, reason: str) -> None:
        self.run(self.core.client_failure(client, reason))

    # --- what the peers see ----------------------------------------------------------------------
    def to(self, target: Target, method: str | None = None) -> list[ClientRef]:
        return [
            c
            for c in self.far
            if c.target == target and (method is None or c.request.method == method)
        ]

    def cdr(self, call_id: str) -> CallRecord:
        detail = by_call_id(self.recorder, call_id)
        assert detail is not None, f"no CDR for {call_id}"
        return detail

    def branch(self) -> str:
        return f"z9hG4bK-peer{next(self._branches)}"


def invite(
    *,
    call_id: str = "call-1",
    uri: str = MEET,
    tag: str = "room1",
    branch: str = "z9hG4bK-inv1",
    max_forwards: int = 70,
    body: bytes = SDP,
    extra: str = "",
) -> bytes:
    """The room's initial INVITE."""
    return (
        f"INVITE {uri} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP {ROOM[0]}:{ROOM[1]};branch={branch};rport\r\n"
        f"Max-Forwards: {max_forwards}\r\n"
        f'From: "Oslo Fjord" <sip:fjord@example.com>;tag={tag}\r\n'
        f"To: <{uri}>\r\n"
        f"Call-ID: {call_id}\r\n"
        "CSeq: 1 INVITE\r\n"
        f"Contact: <sip:fjord@{ROOM[0]}:{ROOM[1]}>\r\n"
        f"{extra}"
        "Content-Type: application/sdp\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


def cancel(invite_data: bytes) -> bytes:
    """The CANCEL of an INVITE (§9.1: same Via, Call-ID, From, To, CSeq number)."""
    request = parse_message(invite_data)
    assert isinstance(request, Request)
    lines = [f"CANCEL {request.uri} SIP/2.0"]
    for name in ("Via", "Max-Forwards", "From", "To", "Call-ID"):
        lines.append(f"{name}: {request.get(name)}")
    lines += [f"CSeq: {request.cseq.number} CANCEL", "Content-Length: 0", "", ""]
    return "\r\n".join(lines).encode()


def in_dialog(
    method: str,
    *,
    answer: Response,
    from_caller: bool,
    branch: str,
    cseq: int,
    body: bytes = b"",
    content_type: str = "application/sdp",
) -> bytes:
    """A request inside the dialog the 200 ``answer`` set up, from either side (§12.2.1.1):
    the caller routes by the Record-Route in reverse, the far end in order."""
    routes = answer.values("Record-Route")
    caller_contact = f"<sip:fjord@{ROOM[0]}:{ROOM[1]}>"
    far_contact = answer.get("Contact") or ""
    if from_caller:
        uri = far_contact.strip("<>")
        routes = list(reversed(routes))
        via_host = f"{ROOM[0]}:{ROOM[1]}"
        from_, to = answer.get("From"), answer.get("To")
        contact = caller_contact
    else:
        uri = caller_contact.strip("<>")
        via_host = f"{FAR_A.host}:{FAR_A.port}"
        from_, to = answer.get("To"), answer.get("From")
        contact = far_contact
    lines = [
        f"{method} {uri} SIP/2.0",
        f"Via: SIP/2.0/UDP {via_host};branch={branch};rport",
        "Max-Forwards: 70",
        f"From: {from_}",
        f"To: {to}",
        f"Call-ID: {answer.call_id}",
        f"CSeq: {cseq} {method}",
        f"Contact: {contact}",
    ]
    lines += [f"Route: {r}" for r in routes]
    if body:
        lines.append(f"Content-Type: {content_type}")
    lines += [f"Content-Length: {len(body)}", "", ""]
    return "\r\n".join(lines).encode() + body
