"""Registrar (RFC 3261 §10.3) with digest auth (RFC 8760 SHA-256, RFC 7616 MD5) on a manual clock;
licences and CDR helpers."""

from __future__ import annotations

import pytest

from guestjoin.cdr import MemoryRecorder, cause_for, conference_of
from guestjoin.config import GatewayConfig
from guestjoin.licences import Licences
from guestjoin.registrar import Registrar
from guestjoin.sip import Request, Response, parse_message
from guestjoin.sip.digest import DigestCredentials, expected_response, parse_auth_params
from guestjoin.values import Received
from otj.model import Endpoint
from otj.secret import Secret
from tests.unit.gateway.support import ManualClock, by_call_id

FJORD = Endpoint(
    name="Oslo Fjord",
    group="g",
    room_resource_email="fjord@r.example.com",
    sip_username="fjord",
    sip_password=Secret("pw-fjord"),
)
CONFIG = GatewayConfig(endpoints=(FJORD,))
SOURCE = Received(transport="udp", remote=("192.0.2.10", 5062), local=("192.0.2.1", 5060))


def register(
    *,
    user: str = "fjord",
    aor: str = "fjord",
    cseq: int = 1,
    expires: str = "600",
    contact: str = "<sip:fjord@192.0.2.10:5062>",
    auth: str | None = None,
) -> Request:
    lines = [
        "REGISTER sip:otj.example.com SIP/2.0",
        "Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK-r" + str(cseq),
        f"From: <sip:{user}@otj.example.com>;tag=r1",
        f"To: <sip:{aor}@otj.example.com>",
        "Call-ID: reg-1",
        f"CSeq: {cseq} REGISTER",
        f"Contact: {contact}",
        f"Expires: {expires}",
    ]
    if auth:
        lines.append(f"Authorization: {auth}")
    msg = parse_message(("\r\n".join(lines) + "\r\nContent-Length: 0\r\n\r\n").encode())
    assert isinstance(msg, Request)
    return msg


def answer(
    challenge: Response,
    *,
    algorithm: str,
    password: str = "pw-fjord",
    user: str = "fjord",
    nc: str = "00000001",
) -> str:
    """What a client computes for the challenge of that algorithm (RFC 7616 §3.4)."""
    for value in challenge.get_all("WWW-Authenticate"):
        params = parse_auth_params(value.removeprefix("Digest "))
        if params["algorithm"] == algorithm:
            break
    else:
        raise AssertionError(f"no {algorithm} challenge")
    creds = DigestCredentials(
        username=user,
        realm=params["realm"],
        nonce=params["nonce"],
        uri="sip:otj.example.com",
        response="",
        algorithm=algorithm,
        cnonce="c0ffee",
        qop="auth",
        nc=nc,
    )
    response = expected_response(creds, method="REGISTER", password=password)
    return (
        f'Digest username="{user}", realm="{creds.realm}", nonce="{creds.nonce}", '
        f'uri="sip:otj.example.com", response="{response}", algorithm={algorithm}, '
        f'cnonce="c0ffee", qop=auth, nc={nc}'
    )


@pytest.fixture
def setup() -> tuple[ManualClock, Registrar]:
    clock = ManualClock()
    return clock, Registrar(clock, realm="otj")


def test_challenge_offers_sha256_then_md5(setup: tuple[ManualClock, Registrar]) -> None:
    _, registrar = setup
    challenge = registrar.handle(register(), SOURCE, CONFIG)
    assert challenge.status == 401
    algorithms = [
        parse_auth_params(v.removeprefix("Digest "))["algorithm"]
        for v in challenge.get_all("WWW-Authenticate")
    ]
    assert algorithms == ["SHA-256", "MD5"]


@pytest.mark.parametrize("algorithm", ["SHA-256", "MD5"])
def test_register_with_either_algorithm(
    setup: tuple[ManualClock, Registrar], algorithm: str
) -> None:
    clock, registrar = setup
    challenge = registrar.handle(register(), SOURCE, CONFIG)
    ok = registrar.handle(
        register(cseq=2, auth=answer(challenge, algorithm=algorithm)), SOURCE, CONFIG
    )
    assert ok.status == 200
    assert ok.get("Contact") == "<sip:fjord@192.0.2.10:5062>;expires=600"
    assert ok.get("Date") is not None
    binding = registrar.binding_for("fjord", "192.0.2.10")
    assert binding is not None
    assert binding.source == ("192.0.2.10", 5062)
    assert registrar.binding_for("fjord", "192.0.2.66") is None  # another address proves nothing
    clock.advance(601)
    assert registrar.binding_for("fjord", "192.0.2.10") is None


def test_wrong_password_and_unknown_user_are_refused(setup: tuple[ManualClock, Registrar]) -> None:
    _, registrar = setup
    challenge = registrar.handle(register(), SOURCE, CONFIG)
    wrong = answer(challenge, algorithm="MD5", password="guess")
    assert registrar.handle(register(cseq=2, auth=wrong), SOURCE, CONFIG).status == 403
    stranger = answer(challenge, algorithm="MD5", user="mallory")
    assert (
        registrar.handle(
            register(user="mallory", aor="mallory", cseq=2, auth=stranger), SOURCE, CONFIG
        ).status
        == 403
    )
    assert registrar.bindings("fjord") == []


def test_an_endpoint_registers_only_its_own_address_of_record(
    setup: tuple[ManualClock, Registrar],
) -> None:
    _, registrar = setup
    challenge = registrar.handle(register(), SOURCE, CONFIG)
    auth = answer(challenge, algorithm="SHA-256")
    response = registrar.handle(register(aor="ceo", cseq=2, auth=auth), SOURCE, CONFIG)
    assert (response.status, response.reason) == (403, "Not Your Address-of-Record")


def test_stale_nonce_and_replayed_count(setup: tuple[ManualClock, Registrar]) -> None:
    clock, registrar = setup
    challenge = registrar.handle(register(), SOURCE, CONFIG)
    auth = answer(challenge, algorithm="SHA-256")
    assert registrar.handle(register(cseq=2, auth=auth), SOURCE, CONFIG).status == 200
    replay = registrar.handle(register(cseq=3, auth=auth), SOURCE, CONFIG)
    assert replay.status == 401  # same nonce count again: a replay
    clock.advance(301)
    stale = registrar.handle(
        register(cseq=4, auth=answer(challenge, algorithm="SHA-256", nc="00000002")),
        SOURCE,
        CONFIG,
    )
    assert stale.status == 401
    assert "stale=true" in (stale.get("WWW-Authenticate") or "")


def test_expiry_rules(setup: tuple[ManualClock, Registrar]) -> None:
    _, registrar = setup
    challenge = registrar.handle(register(), SOURCE, CONFIG)
    nc = iter(range(1, 100))

    def send(**kw: object) -> Response:
        auth = answer(challenge, algorithm="MD5", nc=f"{next(nc):08x}")
        return registrar.handle(register(auth=auth, **kw), SOURCE, CONFIG)  # type: ignore[arg-type]

    too_brief = send(cseq=2, expires="30")
    assert (too_brief.status, too_brief.get("Min-Expires")) == (423, "60")
    assert (
        send(cseq=3, expires="99999").get("Contact") == "<sip:fjord@192.0.2.10:5062>;expires=3600"
    )
    send(cseq=4, contact="<sip:fjord@192.0.2.10:5070>;expires=120")
    assert len(registrar.bindings("fjord")) == 2
    assert send(cseq=5, contact="*", expires="60").status == 400
    removed = send(cseq=6, contact="*", expires="0")
    assert removed.status == 200
    assert registrar.bindings("fjord") == []


def test_licences_two_per_call() -> None:
    licences = Licences(5)
    assert licences.acquire("a")
    assert licences.acquire("b")
    assert not licences.acquire("c")  # would need 6
    assert licences.acquire("a")  # idempotent
    assert licences.in_use == 4
    licences.release("a")
    licences.release("a")
    assert licences.acquire("c")


@pytest.mark.parametrize(
    ("code", "cause"),
    [
        (480, "call_rejected"),
        (486, "busy"),
        (603, "declined"),
        (404, "not_found"),
        (487, "cancelled"),
        (408, "timeout"),
        (503, "unavailable"),
        (415, "failed"),
    ],
)
def test_causes(code: int, cause: str) -> None:
    assert cause_for(code) == cause


@pytest.mark.parametrize(
    ("alias", "conference"),
    [
        ("abc-defg-hij@google.pexip.me", "abc-defg-hij"),
        ("abc-defg-hij.1234@google.pexip.me", "abc-defg-hij"),
        ("google.pexip.me", ""),
    ],
)
def test_conference_of(alias: str, conference: str) -> None:
    assert conference_of(alias) == conference


def test_memory_recorder_keeps_the_latest_state() -> None:
    from datetime import UTC, datetime

    from guestjoin.cdr import CallRecord

    recorder = MemoryRecorder()
    seen: list[CallRecord] = []
    recorder.listeners.append(seen.append)
    start = CallRecord(key="k", call_id="c", invite_at=datetime(2026, 1, 1, tzinfo=UTC))
    recorder.record(start)
    recorder.record(
        start.__class__(
            **{
                **{f: getattr(start, f) for f in start.__slots__},
                "cause": "completed",
                "end_at": datetime(2026, 1, 1, 0, 1, tzinfo=UTC),
            }
        )
    )
    assert by_call_id(recorder, "c") is not None
    assert recorder.live() == []
    assert len(seen) == 2
