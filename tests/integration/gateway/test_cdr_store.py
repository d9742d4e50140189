"""Call records in the store: retention (``gateway.cdr_retention_days``, default 90) with an
injected clock, and a flood of refused INVITEs at a live gateway stored as a few records."""

from __future__ import annotations

import asyncio
import socket
from datetime import UTC, datetime, timedelta

import pytest

from guestjoin.config import GatewayConfig, StaticConfig
from guestjoin.gateway import Gateway, GatewayOptions
from guestjoin.storage import StoreRecorder
from otj.commands.calls import render
from otj.config import apply_text
from otj.model import CallRoutingRule, ListenAddress
from otj.store import Database

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
MEET = CallRoutingRule(
    name="SIP Guest Join", priority=10, match_string=r"[a-z\-]{10,12}@google\.pexip\.me"
)


def _call(db: Database, name: str, *, started: timedelta, ended: timedelta | None) -> None:
    record = db.calls.start(
        call_id=name,
        direction="inbound",
        caller_uri="sip:room@example.com",
        invite_at=NOW - started,
    )
    if ended is not None:
        db.calls.finish(record.id, end_at=NOW - ended, cause="completed")


def test_records_older_than_the_retention_are_deleted(db: Database) -> None:
    _call(db, "ended-100d", started=timedelta(days=100), ended=timedelta(days=100))
    _call(db, "ended-80d", started=timedelta(days=81), ended=timedelta(days=80))
    _call(db, "stuck-100d", started=timedelta(days=100), ended=None)  # gateway stopped mid-call
    _call(db, "live", started=timedelta(minutes=5), ended=None)
    recorder = StoreRecorder(db, clock=lambda: NOW, purge_every=3600)
    try:
        recorder.purge()  # the default, 90 days (the writer thread may have purged first)
        assert sorted(c.call_id for c in db.calls.recent()) == ["ended-80d", "live"]
        result = apply_text(db, "gateway:\n  cdr_retention_days: 30\n", environ={})
        assert not result.problems
        assert db.config.gateway_settings().cdr_retention_days == 30
        assert recorder.purge() == 1
        assert [c.call_id for c in db.calls.recent()] == ["live"]
    finally:
        recorder.close()


def test_retention_must_be_a_sensible_number_of_days(db: Database) -> None:
    result = apply_text(db, "gateway:\n  cdr_retention_days: 0\n", environ={})
    assert [(p.path, p.line) for p in result.problems] == [("gateway.cdr_retention_days", 2)]


INVITE = (
    "INVITE sip:{n}@nowhere.example.com SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK-flood-{n};rport\r\n"
    "Max-Forwards: 70\r\n"
    "From: <sip:evil@127.0.0.1>;tag=f{n}\r\n"
    "To: <sip:{n}@nowhere.example.com>\r\n"
    "Call-ID: flood-{n}\r\n"
    "CSeq: 1 INVITE\r\n"
    "Content-Length: 0\r\n\r\n"
)
FLOOD = 300


@pytest.mark.peer
async def test_a_flood_of_refused_calls_is_stored_as_a_summary(db: Database) -> None:
    recorder = StoreRecorder(db)
    gateway = Gateway(
        StaticConfig(GatewayConfig(rules=(MEET,))),
        recorder,
        options=GatewayOptions(reload_interval=0),
    )
    await gateway.start((ListenAddress(transport="udp", address="127.0.0.1", port=0),))
    try:
        target = ("127.0.0.1", gateway.listener("udp").port)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
            for n in range(FLOOD):  # bounded: 300 datagrams, paced a little
                sock.sendto(INVITE.format(n=n, port=port).encode(), target)
                if n % 20 == 0:
                    await asyncio.sleep(0.01)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 20
            while loop.time() < deadline:
                calls = db.calls.recent(limit=1000)
                if sum(c.attempts for c in calls) >= FLOOD:
                    break
                await asyncio.sleep(0.2)
    finally:
        await gateway.stop()
        recorder.close()
    calls = db.calls.recent(limit=1000)
    assert sum(c.attempts for c in calls) == FLOOD
    assert {c.cause for c in calls} == {"no_route"}
    summaries = [c for c in calls if c.attempts > 1]
    assert 1 <= len(summaries) <= 2  # one per minute (the flood may straddle a minute)
    assert len(calls) <= 2 * 4  # three single records and one summary per minute
    text = "\n".join(render([], calls, NOW))
    assert f"{summaries[0].attempts} calls from 127.0.0.1 → " in text


def test_reception_calls_keep_their_fields_and_otj_calls_shows_them(db: Database) -> None:
    from guestjoin.cdr import CallRecord

    recorder = StoreRecorder(db)
    try:
        recorder.record(
            CallRecord(
                key="r1",
                call_id="reception-1",
                caller_uri="sip:room@example.com",
                endpoint_name="Oslo Fjord",
                dialled_alias="join@vc.example.com",
                routed_alias="123456789@zoomcrc.com",
                rule="Zoom",
                invite_at=NOW - timedelta(minutes=1),
                answer_at=NOW - timedelta(minutes=1),
                end_at=NOW,
                final_code=200,
                cause="transferred",
                reception="Join",
                digits_outcome="id",
                transfer_method="refer",
            )
        )
    finally:
        recorder.close()
    [call] = db.calls.recent()
    assert (call.reception, call.digits_outcome, call.transfer_method) == ("Join", "id", "refer")
    text = "\n".join(render([], [call], NOW))
    assert "Oslo Fjord → join@vc.example.com  200 transferred" in text
    assert "reception Join: id → refer" in text
