"""Repositories on SQLite and PostgreSQL: the same suite runs on both backends."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from guestjoin.storage import StoreConfig
from otj.model import (
    CallProtocol,
    Endpoint,
    EndpointGroup,
    GatewaySettings,
    ListenAddress,
    Meeting,
    MeetingRule,
    Platform,
    Profile,
    TraceStep,
)
from otj.secret import Secret
from otj.store import Database, SecretBox
from otj.store.migrate import current_revision, head_revision
from otj.store.rooms import LeaseLost
from otj.store.secrets import SecretKeyError
from otj.store.tables import Base
from otj.store.tokens import TokenError
from otj.store.values import INLINE_KEEP, Configuration, IntegrationSettings, PollCommit
from tests.integration.delivery.storehelp import record_failure, record_push

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ROOM = "fjord@resource.example.com"


def small_config(*, password: str = "s3cret", rooms: int = 1) -> Configuration:
    endpoints = tuple(
        Endpoint(
            name=f"Room {i}",
            group="Oslo",
            room_resource_email=ROOM if i == 0 else f"room{i}@resource.example.com",
            api_password=Secret(password),
            sip_username=f"room{i}",
            sip_password=Secret("", ref="env:OTJ_SIP"),
        )
        for i in range(rooms)
    )
    return Configuration(
        sections=frozenset(
            {"integrations", "profiles", "endpoint_groups", "endpoints", "meeting_processing_rules"}
        ),
        integrations=(
            IntegrationSettings(
                name="Files",
                type="ics",
                options={"path_template": "cal/{room}.ics"},
                secrets={"token": Secret("tok-inline")},
            ),
        ),
        profiles=(Profile(name="Head office", integration="Files", poll_interval=30),),
        endpoint_groups=(EndpointGroup(name="Oslo", profile="Head office"),),
        endpoints=endpoints,
        meeting_processing_rules=(
            MeetingRule(name="Meet", meeting_type="googlemeetsipguestjoin", profile="Head office"),
            MeetingRule(name="Zoom", meeting_type="zoom", priority=60),
        ),
    )


def meeting(
    event_id: str,
    *,
    start_h: float = 1,
    alias: str | None = "abc-defg-hij@google.pexip.me",
    subject: str = "Weekly",
    listed: bool = True,
    room: str = ROOM,
) -> Meeting:
    start = T0 + timedelta(hours=start_h)
    return Meeting(
        room=room,
        event_id=event_id,
        subject=subject,
        organizer_name="Ada",
        organizer_email="ada@example.com",
        start=start,
        end=start + timedelta(hours=1),
        join_from=start - timedelta(minutes=5),
        join_until=start + timedelta(hours=1),
        alias=alias,
        protocol=CallProtocol.SIP,
        platform=Platform.GOOGLE_MEET,
        rule="Meet",
        listed=listed,
        trace=(TraceStep(rule="Meet", meeting_type="googlemeetsipguestjoin", outcome="matched"),),
    )


def commit(
    db: Database,
    owner: str,
    meetings: list[Meeting],
    *,
    full: bool = True,
    removed: tuple[str, ...] = (),
    now: datetime = T0,
    state: str | None = "tok-1",
    room: str = ROOM,
):
    return db.rooms.commit_poll(
        PollCommit(
            room=room,
            owner=owner,
            now=now,
            full=full,
            meetings=meetings,
            removed_event_ids=removed,
            sync_state=state,
            sync_fingerprint="fp",
            window_start=now - timedelta(days=1),
            window_end=now + timedelta(days=8),
            display_end=now + timedelta(days=7),
            next_poll_at=now + timedelta(seconds=60),
            requests=1,
            integration="Files",
        )
    )


# --- schema -----------------------------------------------------------------------------------


def test_migrations_reach_head_and_match_the_models(db: Database) -> None:
    assert current_revision(db.engine) == head_revision()
    with db.engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata
        )
    assert diff == []


def test_upgrade_is_idempotent(db: Database) -> None:
    db.upgrade()
    db.upgrade()
    assert current_revision(db.engine) == head_revision()


# --- configuration ----------------------------------------------------------------------------


def test_apply_creates_then_reports_no_change(db: Database) -> None:
    first = db.config.apply(small_config())
    assert {(c.section, c.action) for c in first.changes} >= {
        ("profiles", "created"),
        ("endpoints", "created"),
        ("integrations", "created"),
    }
    second = db.config.apply(small_config())
    assert second.changes == ()
    assert second.revision == first.revision
    assert db.rooms.names() == [ROOM]


def test_apply_updates_only_changed_fields(db: Database) -> None:
    db.config.apply(small_config())
    config = small_config(password="other")
    report = db.config.apply(config)
    assert [c.describe() for c in report.changes] == ["updated endpoints 'Room 0': api_password"]


def test_prune_deletes_unlisted_objects_of_named_sections_only(db: Database) -> None:
    db.config.apply(small_config(rooms=3))
    assert len(db.rooms.names()) == 3
    report = db.config.apply(
        Configuration(sections=frozenset({"endpoints"}), endpoints=small_config().endpoints),
        prune=True,
    )
    assert {c.name for c in report.changes if c.action == "deleted"} == {"Room 1", "Room 2"}
    assert db.rooms.names() == [ROOM]
    assert [p.name for p in db.config.snapshot().profiles] == ["Head office"]


def test_failed_apply_writes_nothing(db: Database) -> None:
    db.config.apply(small_config())
    broken = Configuration(
        sections=frozenset({"endpoint_groups", "endpoints"}),
        endpoint_groups=(EndpointGroup(name="Ghost", profile="No such profile"),),
        endpoints=small_config().endpoints,
    )
    with pytest.raises(sa.exc.IntegrityError):
        db.config.apply(broken)
    assert [g.name for g in db.config.snapshot().endpoint_groups] == ["Oslo"]


def test_secrets_are_encrypted_at_rest_and_never_in_reprs(db: Database, tmp_path: Path) -> None:
    db.config.apply(small_config(password="hunter2-very-secret"))
    with db.engine.connect() as conn:
        dump = json.dumps(
            [list(r) for r in conn.execute(sa.text("SELECT * FROM endpoints"))], default=str
        )
        dump += json.dumps(
            [list(r) for r in conn.execute(sa.text("SELECT * FROM integrations"))], default=str
        )
    assert "hunter2" not in dump
    assert "tok-inline" not in dump
    assert "env:OTJ_SIP" in dump  # references are stored as written
    endpoint = db.config.endpoint("Room 0")
    assert endpoint is not None
    assert endpoint.api_password is not None
    assert endpoint.api_password.reveal() == "hunter2-very-secret"
    assert "hunter2" not in repr(endpoint)
    key_file = tmp_path / "secret.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_sealed_snapshot_marks_inline_secrets_and_keeps_them_on_reapply(db: Database) -> None:
    db.config.apply(small_config(password="pw-1"))
    sealed = db.config.snapshot(secrets="sealed")
    endpoint = sealed.endpoints[0]
    assert endpoint.api_password == Secret("", ref=INLINE_KEEP)
    assert endpoint.sip_password == Secret("", ref="env:OTJ_SIP")
    assert db.config.apply(sealed).changes == ()
    again = db.config.endpoint("Room 0")
    assert again is not None
    assert again.api_password is not None
    assert again.api_password.reveal() == "pw-1"


def test_wrong_key_gives_a_clear_error(db: Database, tmp_path: Path) -> None:
    db.config.apply(small_config())
    other = Database(db.url, box=SecretBox(key_file=tmp_path / "other.key", environ={}))
    try:
        with pytest.raises(SecretKeyError, match="cannot be decrypted"):
            other.config.endpoint("Room 0")
    finally:
        other.close()


def test_key_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    key = tmp_path / "k"
    box = SecretBox(key_file=key, environ={})
    box.seal("x")
    key.chmod(0o644)
    with pytest.raises(SecretKeyError, match="chmod 600"):
        SecretBox(key_file=key, environ={}).seal("y")


def test_key_from_environment_with_rotation(tmp_path: Path) -> None:
    from otj.store.secrets import generate_key

    old, new = generate_key(), generate_key()
    sealed = SecretBox(environ={"OTJ_SECRET_KEY": old}).seal("pw")
    rotated = SecretBox(environ={"OTJ_SECRET_KEY": f"{new},{old}"})
    assert rotated.open(sealed).reveal() == "pw"
    assert not (tmp_path / "secret.key").exists()


def test_derived_keys_follow_the_secret_key_and_the_purpose(tmp_path: Path) -> None:
    from otj.store.secrets import generate_key

    key = generate_key()
    box = SecretBox(environ={"OTJ_SECRET_KEY": key})
    dialog = box.derive_key("guestjoin dialog tokens")
    assert len(dialog) == 32
    assert dialog == SecretBox(environ={"OTJ_SECRET_KEY": key}).derive_key(
        "guestjoin dialog tokens"
    )  # the same key in another process: tokens survive a restart
    assert dialog != box.derive_key("something else")
    assert dialog != SecretBox(environ={"OTJ_SECRET_KEY": generate_key()}).derive_key(
        "guestjoin dialog tokens"
    )
    assert key.encode() not in dialog
    on_disk = SecretBox(key_file=tmp_path / "secret.key", environ={})
    assert len(on_disk.derive_key("guestjoin dialog tokens")) == 32  # created on first use
    with pytest.raises(SecretKeyError, match="not a valid Fernet key"):
        SecretBox(environ={"OTJ_SECRET_KEY": "!!"}).derive_key("x")


def test_gateway_and_routing_reads(db: Database) -> None:
    gateway = GatewaySettings(
        listen=(ListenAddress(transport="udp", address="127.0.0.1", port=15060),),
        tls_certificate=Secret("", ref="file:/nonexistent/cert.pem"),
        dns_servers=("127.0.0.1:15353",),
        call_licenses=4,
        max_calls_per_source=3,
    )
    assert GatewaySettings().max_calls_per_source == 20
    db.config.apply(Configuration(sections=frozenset({"gateway"}), gateway=gateway))
    got = db.config.gateway_settings()
    assert got.listen == gateway.listen
    assert got.call_licenses == 4
    assert got.max_calls_per_source == 3
    assert got.tls_certificate is not None
    assert got.tls_certificate.ref == "file:/nonexistent/cert.pem"
    assert (
        db.config.apply(Configuration(sections=frozenset({"gateway"}), gateway=gateway)).changes
        == ()
    )


def test_room_assignments_and_sip_lookup(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTJ_SIP", "sip-pw")
    db.config.apply(small_config())
    (assignment,) = db.config.room_assignments()
    assert assignment.room == ROOM
    assert assignment.profile.name == "Head office"
    assert assignment.integration is not None
    assert assignment.integration.name == "Files"
    assert [r.name for r in assignment.rules] == ["Zoom", "Meet"]  # by priority
    # the gateway's registrar finds an endpoint by its sip_username in what StoreConfig loads
    endpoint = StoreConfig(db).load().endpoint_by_username("room0")
    assert endpoint is not None
    assert endpoint.sip_password is not None
    assert endpoint.sip_password.reveal() == "sip-pw"


# --- rooms, meetings, leases ------------------------------------------------------------------


def test_full_then_incremental_commits(db: Database) -> None:
    db.config.apply(small_config())
    assert db.rooms.claim(ROOM, owner="w1", now=T0, ttl=timedelta(minutes=2)) is not None
    outcome = commit(db, "w1", [meeting("a"), meeting("b", start_h=3)])
    assert (outcome.upserted, outcome.listed, outcome.changed) == (2, 2, True)
    assert [p.room for p in db.rooms.pending_delivery()] == [ROOM]

    # the same result again: nothing written, nothing to deliver
    db.rooms.claim(ROOM, owner="w1", now=T0, ttl=timedelta(minutes=2), force=True)
    again = commit(db, "w1", [meeting("a"), meeting("b", start_h=3)])
    assert (again.upserted, again.deleted, again.changed) == (0, 0, False)

    # incremental: one changed, one removed
    db.rooms.claim(ROOM, owner="w1", now=T0, ttl=timedelta(minutes=2), force=True)
    inc = commit(
        db, "w1", [meeting("a", subject="Renamed")], full=False, removed=("b",), state="tok-2"
    )
    assert (inc.upserted, inc.deleted, inc.changed) == (1, 1, True)
    assert [m.subject for m in db.meetings.list(ROOM)] == ["Renamed"]
    assert db.rooms.sync_state(ROOM) == "tok-2"


def test_full_commit_deletes_only_what_is_gone(db: Database) -> None:
    db.config.apply(small_config())
    db.rooms.claim(ROOM, owner="w1", now=T0, ttl=timedelta(minutes=2))
    commit(db, "w1", [meeting("a"), meeting("b", start_h=2)])
    with db.engine.connect() as conn:
        ids_before = dict(conn.execute(sa.text("SELECT event_id, id FROM meetings")).all())
    db.rooms.claim(ROOM, owner="w1", now=T0, ttl=timedelta(minutes=2), force=True)
    commit(db, "w1", [meeting("b", start_h=2), meeting("c", start_h=4)])
    with db.engine.connect() as conn:
        ids_after = dict(conn.execute(sa.text("SELECT event_id, id FROM meetings")).all())
    assert set(ids_after) == {"b", "c"}
    assert ids_after["b"] == ids_before["b"]  # upserted in place, never wiped and refilled


def test_trace_survives_round_trip_and_unlisted_meetings_do_not_trigger_delivery(
    db: Database,
) -> None:
    db.config.apply(small_config())
    db.rooms.claim(ROOM, owner="w1", now=T0, ttl=timedelta(minutes=2))
    commit(db, "w1", [meeting("a")])
    generation = db.rooms.pending_delivery()[0].generation
    assert db.rooms.mark_delivered(ROOM, generation)
    db.rooms.claim(ROOM, owner="w1", now=T0, ttl=timedelta(minutes=2), force=True)
    outcome = commit(db, "w1", [meeting("a"), meeting("private", listed=False, alias=None)])
    assert not outcome.changed
    assert db.rooms.pending_delivery() == []
    stored = db.meetings.get(ROOM, "a")
    assert stored is not None
    assert stored.trace == meeting("a").trace
    assert stored.start.tzinfo is not None


def test_mark_delivered_loses_to_a_newer_change(db: Database) -> None:
    db.config.apply(small_config())
    db.rooms.claim(ROOM, owner="w1", now=T0, ttl=timedelta(minutes=2))
    commit(db, "w1", [meeting("a")])
    old = db.rooms.pending_delivery()[0].generation
    db.rooms.claim(ROOM, owner="w1", now=T0, ttl=timedelta(minutes=2), force=True)
    commit(db, "w1", [meeting("a", subject="New")])
    assert not db.rooms.mark_delivered(ROOM, old)
    assert [p.room for p in db.rooms.pending_delivery()] == [ROOM]


def test_meetings_that_ended_before_the_window_are_pruned(db: Database) -> None:
    db.config.apply(small_config())
    db.rooms.claim(ROOM, owner="w1", now=T0, ttl=timedelta(minutes=2))
    commit(db, "w1", [meeting("old", start_h=-3), meeting("new", start_h=2)])
    later = T0 + timedelta(days=1)
    db.rooms.claim(ROOM, owner="w1", now=later, ttl=timedelta(minutes=2), force=True)
    outcome = commit(db, "w1", [], full=False, now=later)
    assert outcome.deleted == 1
    assert [m.event_id for m in db.meetings.list(ROOM)] == ["new"]


def test_leases_exclude_others_until_they_expire(db: Database) -> None:
    db.config.apply(small_config())
    ttl = timedelta(minutes=2)
    assert db.rooms.claim(ROOM, owner="w1", now=T0, ttl=ttl) is not None
    assert db.rooms.claim(ROOM, owner="w2", now=T0 + timedelta(seconds=119), ttl=ttl) is None
    assert db.rooms.claim(ROOM, owner="w2", now=T0 + timedelta(seconds=121), ttl=ttl) is not None
    with pytest.raises(LeaseLost):
        commit(db, "w1", [meeting("a")])  # w1 was too slow: its result is discarded
    assert db.meetings.count(ROOM) == 0


def test_claim_respects_schedule_and_server_back_off(db: Database) -> None:
    db.config.apply(small_config())
    ttl = timedelta(minutes=2)
    assert db.rooms.claim(ROOM, owner="w1", now=T0, ttl=ttl) is not None
    commit(db, "w1", [meeting("a")])  # next poll at T0 + 60 s
    assert db.rooms.claim(ROOM, owner="w1", now=T0 + timedelta(seconds=20), ttl=ttl) is None
    early = timedelta(seconds=30)
    claim = db.rooms.claim(ROOM, owner="w1", now=T0 + timedelta(seconds=31), ttl=ttl, early=early)
    assert claim is not None
    db.rooms.record_failure(
        ROOM,
        owner="w1",
        now=T0 + timedelta(seconds=31),
        kind="unavailable",
        message="503",
        next_poll_at=T0 + timedelta(seconds=91),
        not_before=T0 + timedelta(seconds=300),
    )
    assert db.rooms.claim(ROOM, owner="w1", now=T0 + timedelta(seconds=200), ttl=ttl) is None
    assert db.rooms.claim(ROOM, owner="w1", now=T0 + timedelta(seconds=301), ttl=ttl) is not None


def test_claim_due_splits_rooms_between_owners(db: Database) -> None:
    db.config.apply(small_config(rooms=10))
    ttl = timedelta(minutes=2)
    first = db.rooms.claim_due(owner="w1", now=T0, ttl=ttl, limit=6)
    second = db.rooms.claim_due(owner="w2", now=T0, ttl=ttl, limit=6)
    assert len(first) == 6
    assert len(second) == 4
    assert not {c.room for c in first} & {c.room for c in second}


def test_usage_is_counted_per_day(db: Database) -> None:
    db.config.apply(small_config())
    db.rooms.claim(ROOM, owner="w1", now=T0, ttl=timedelta(minutes=2))
    commit(db, "w1", [meeting("a")])
    db.rooms.add_usage("Files", T0.date(), 4)
    assert db.rooms.usage("Files", T0.date()).requests == 5


# --- alarms, calls, delivery state, tokens ----------------------------------------------------


def test_alarms_raise_once_and_clear(db: Database) -> None:
    a = db.alarms.raise_alarm("calendar_auth", "Workspace", "401", now=T0)
    b = db.alarms.raise_alarm("calendar_auth", "Workspace", "403", now=T0 + timedelta(seconds=1))
    assert a.id == b.id
    assert b.message == "403"
    assert len(db.alarms.active()) == 1
    assert db.alarms.clear("calendar_auth", "Workspace", now=T0 + timedelta(seconds=2)) == 1
    assert db.alarms.active() == []
    assert db.alarms.recent()[0].cleared_at is not None


def test_call_records(db: Database) -> None:
    call = db.calls.start(
        call_id="abc@host",
        direction="inbound",
        caller_uri="sip:fjord@example.com",
        invite_at=T0,
        dialled_alias="abc-defg-hij@google.pexip.me",
        conference="abc-defg-hij",
    )
    assert [c.id for c in db.calls.live()] == [call.id]
    db.calls.update(call.id, ringing_at=T0 + timedelta(seconds=1), rule="Meet")
    done = db.calls.finish(
        call.id, end_at=T0 + timedelta(seconds=40), cause="not_admitted", final_code=200
    )
    assert done.cause == "not_admitted"
    assert done.rule == "Meet"
    assert db.calls.live() == []
    assert db.calls.recent()[0].end_at == T0 + timedelta(seconds=40)
    with pytest.raises(TypeError):
        db.calls.update(call.id, bogus=1)


def test_delivery_state(db: Database) -> None:
    db.config.apply(small_config())
    assert db.delivery.get("Room 0").failures == 0
    record_failure(db, "Room 0", kind="unreachable", message="timeout", now=T0)
    state = record_failure(db, "Room 0", kind="unreachable", message="timeout", now=T0)
    assert (state.failures, state.error_kind, state.last_error) == (2, "unreachable", "timeout")
    ok = record_push(db, "Room 0", digest="h1", now=T0)
    assert (ok.failures, ok.pushed_digest, ok.pushed_at, ok.last_error, ok.last_result) == (
        0,
        "h1",
        T0,
        "",
        "pushed",
    )
    db.delivery.update("Room 0", now=T0, sync_required=True, software_version="ce11.14")
    assert db.delivery.get("Room 0").sync_required
    with pytest.raises(KeyError):
        db.delivery.update("Nope", now=T0, sync_required=True)


def test_tokens(db: Database) -> None:
    db.config.apply(small_config())
    token, record = db.tokens.create("admin", "ops", now=T0)
    assert record.prefix in token
    with db.engine.connect() as conn:
        assert token not in json.dumps(
            [list(r) for r in conn.execute(sa.text("SELECT * FROM api_tokens"))], default=str
        )
    assert db.tokens.verify(token, now=T0) is not None
    assert db.tokens.verify(token, now=T0, kind="endpoint") is None
    assert db.tokens.verify(token + "x", now=T0) is None
    with pytest.raises(TokenError):
        db.tokens.create("admin", "ops", now=T0)
    endpoint_token, _ = db.tokens.create("endpoint", "Room 0", now=T0, endpoint="Room 0")
    assert db.tokens.verify(endpoint_token, now=T0, kind="endpoint") is not None
    assert db.tokens.revoke("admin", "ops", now=T0)
    assert db.tokens.verify(token, now=T0) is None


def test_concurrent_raises_of_one_alarm_make_one_alarm(db: Database) -> None:
    import threading

    barrier = threading.Barrier(6)

    def raise_it(i: int) -> None:
        barrier.wait()
        db.alarms.raise_alarm("calendar_auth", "Workspace", f"401 from room {i}", now=T0)

    threads = [threading.Thread(target=raise_it, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(db.alarms.active()) == 1


def test_reception_calendar_offers_the_rooms_meeting_from_the_store(db: Database) -> None:
    from guestjoin.reception.calendar import StoreCalendar

    db.config.apply(small_config())
    assert db.rooms.claim(ROOM, owner="w1", now=T0, ttl=timedelta(minutes=2)) is not None
    commit(
        db,
        "w1",
        [
            meeting("a", start_h=1, subject="Weekly"),
            meeting("b", start_h=3, subject="Hidden", listed=False),
            meeting("c", start_h=5, alias=None, subject="No alias"),
        ],
    )
    calendar = StoreCalendar(db)
    offer = calendar.offer(ROOM.upper(), T0 + timedelta(minutes=57))  # in a's start buffer
    assert offer is not None
    assert (offer.alias, offer.subject) == ("abc-defg-hij@google.pexip.me", "Weekly")
    assert offer.platform == Platform.GOOGLE_MEET
    assert calendar.offer(ROOM, T0 + timedelta(hours=3, minutes=10)) is None  # unlisted
    assert calendar.offer(ROOM, T0 + timedelta(hours=5, minutes=10)) is None  # no alias
    assert calendar.offer("other@resource.example.com", T0 + timedelta(hours=1)) is None
