"""Media relay keys: a rule's ``media``/``outbound_media_encryption`` and ``gateway.rtpengines``
validated, stored, exported and read back; the call records' media figures stored."""

from __future__ import annotations

from datetime import UTC, datetime

from otj.config import apply_text
from otj.config.export import to_yaml
from otj.model import RtpEngineAddress
from otj.store import Database

RELAY = """
gateway:
  rtpengines:
    - address: 127.0.0.1:2223
      weight: 2
    - 10.0.0.9:2223
call_routing_rules:
  - name: Relayed
    match_string: '[a-z\\-]{10,12}@google\\.pexip\\.me'
    media: relay
    outbound_media_encryption: required
"""


def problems(result) -> list[str]:  # type: ignore[no-untyped-def]
    return [str(p) for p in result.problems]


def test_relay_keys_are_stored_exported_and_read_back(db: Database) -> None:
    result = apply_text(db, RELAY, environ={})
    assert result.ok, problems(result)
    assert db.config.gateway_settings().rtpengines == (
        RtpEngineAddress(address="127.0.0.1:2223", weight=2),
        RtpEngineAddress(address="10.0.0.9:2223", weight=1),
    )
    (rule,) = db.config.call_routing_rules()
    assert (rule.media, rule.outbound_media_encryption) == ("relay", "required")
    exported = to_yaml(db.config.snapshot(secrets="sealed"))
    assert "media: relay" in exported
    assert "address: 127.0.0.1:2223" in exported
    again = apply_text(db, exported, environ={})
    assert again.report is not None
    assert again.report.changes == ()


def test_relay_keys_are_checked(db: Database) -> None:
    no_engine = apply_text(
        db, RELAY.split("call_routing_rules:")[1].join(["call_routing_rules:", ""]), environ={}
    )
    assert not no_engine.ok
    assert any("needs at least one rtpengine" in p for p in problems(no_engine)), problems(
        no_engine
    )
    address = apply_text(db, RELAY.replace("10.0.0.9:2223", "10.0.0.9"), environ={})
    assert "gateway.rtpengines[1].address" in " ".join(problems(address))
    assert "HOST:PORT" in " ".join(problems(address))
    bad = RELAY.replace("weight: 2", "weight: 0")
    bad = bad.replace("encryption: required", "encryption: always")
    found = " ".join(problems(apply_text(db, bad, environ={})))
    assert "weight (line 5): must be between 1 and 1000" in found
    assert "none | best_effort | required" in found
    direct = RELAY.replace("media: relay", "media: direct")
    warned = apply_text(db, direct, environ={})
    assert warned.ok
    assert any("applies to media: relay only" in p for p in problems(warned))


def test_call_records_keep_media_figures(db: Database) -> None:
    now = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)
    record = db.calls.start(
        call_id="c1", direction="inbound", caller_uri="sip:room@x", invite_at=now
    )
    assert record.media_engine == ""
    updated = db.calls.update(
        record.id,
        media_engine="127.0.0.1:2223",
        media_room_packets=500,
        media_room_bytes=5_000_000_000,
        media_room_lost=3,
        media_far_packets=499,
        media_far_bytes=86_000,
        media_far_lost=1,
    )
    assert updated.media_room_bytes == 5_000_000_000
    assert db.calls.get(record.id) == updated


def test_otj_calls_shows_the_media_figures(db: Database) -> None:
    from otj.commands.calls import render

    now = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)
    record = db.calls.start(
        call_id="c2", direction="inbound", caller_uri="sip:room@x", invite_at=now
    )
    db.calls.update(
        record.id, media_engine="127.0.0.1:2223", media_room_packets=50, media_room_bytes=8600
    )
    text = "\n".join(render([], db.calls.recent(), now))
    assert (
        "media relayed by 127.0.0.1:2223: from the room 50 packets, 8.6 kB, 0 lost; "
        "from the far end 0 packets, 0.0 kB, 0 lost"
    ) in text


def test_store_alarms_raise_and_clear_in_order(db: Database) -> None:
    from guestjoin.media.pool import ALARM_KIND
    from guestjoin.storage import StoreAlarms

    alarms = StoreAlarms(db)
    alarms.raise_alarm(ALARM_KIND, "127.0.0.1:2223", "rtpengine 127.0.0.1:2223 does not answer")
    alarms.close()
    (active,) = db.alarms.active(kind=ALARM_KIND)
    assert (active.subject, active.message) == (
        "127.0.0.1:2223",
        "rtpengine 127.0.0.1:2223 does not answer",
    )
    alarms = StoreAlarms(db)
    alarms.clear_alarm(ALARM_KIND, "127.0.0.1:2223")
    alarms.close()
    assert db.alarms.active(kind=ALARM_KIND) == []
