"""``push_leases`` and ``push_notifications`` on each backend: one holder per room, expiry,
take-over, publishing, and the queue reaching only the live holder."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from otj.store.push import token_hash

NOW = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)
TTL = timedelta(seconds=90)
KINDS = {"a@x": "graph", "b@x": "graph", "c@x": "google"}


def test_a_room_belongs_to_one_holder_until_its_lease_expires(db: Any) -> None:
    first = db.push.claim(KINDS, owner="w1", ttl=TTL, now=NOW)
    assert sorted(first) == sorted(KINDS)
    assert db.push.claim(KINDS, owner="w2", ttl=TTL, now=NOW + timedelta(seconds=1)) == {}
    renewed = db.push.claim(KINDS, owner="w1", ttl=TTL, now=NOW + timedelta(seconds=60))
    assert renewed["a@x"].lease_expires_at == NOW + timedelta(seconds=60) + TTL
    # w1 stops renewing (it died): after the expiry w2 takes every room over
    later = NOW + timedelta(seconds=60) + TTL + timedelta(seconds=1)
    assert sorted(db.push.claim(KINDS, owner="w2", ttl=TTL, now=later)) == sorted(KINDS)
    assert {lease.owner for lease in db.push.leases().values()} == {"w2"}


def test_the_published_subscription_authenticates_and_release_forgets_it(db: Any) -> None:
    db.push.claim(KINDS, owner="w1", ttl=TTL, now=NOW)
    expires = NOW + timedelta(days=2)
    assert db.push.publish(
        "a@x",
        owner="w1",
        kind="graph",
        state="healthy",
        channel_id="sub-1",
        channel_expires_at=expires,
        token="s3cret",
    )
    assert not db.push.publish("a@x", owner="w2", kind="graph", state="failed")  # not its lease
    found = db.push.find("graph", "sub-1")
    assert found is not None
    assert found.room == "a@x"
    assert found.healthy(NOW)
    assert found.token_sha256 == token_hash("s3cret")
    assert "s3cret" not in repr(found)
    assert db.push.find("google", "sub-1") is None
    db.push.publish(
        "a@x",
        owner="w1",
        kind="graph",
        state="healthy",
        channel_id="sub-1",
        channel_expires_at=expires,
    )  # a renewal keeps the token hash
    assert db.push.find("graph", "sub-1").token_sha256 == token_hash("s3cret")
    assert db.push.release(["a@x"], owner="w1") == 1
    assert db.push.find("graph", "sub-1") is None


def test_validation_is_expected_only_while_a_holder_opens_one(db: Any) -> None:
    db.push.claim(KINDS, owner="w1", ttl=TTL, now=NOW)
    assert not db.push.expects_validation("graph", now=NOW)
    db.push.validating("a@x", owner="w1", until=NOW + timedelta(seconds=30))
    assert db.push.expects_validation("graph", now=NOW)
    assert not db.push.expects_validation("google", now=NOW)
    assert not db.push.expects_validation("graph", now=NOW + timedelta(seconds=31))


def test_queued_notifications_reach_only_the_live_holder(db: Any) -> None:
    db.push.claim({"a@x": "graph"}, owner="w1", ttl=TTL, now=NOW)
    db.push.claim({"b@x": "graph"}, owner="w2", ttl=TTL, now=NOW)
    for room, event in [("a@x", "changed"), ("b@x", "changed"), ("a@x", "missed")]:
        db.push.enqueue(room, event, now=NOW)
    db.push.enqueue("c@x", "changed", now=NOW)  # nobody holds it
    assert db.push.take(owner="w1", now=NOW) == [("a@x", "changed"), ("a@x", "missed")]
    assert db.push.take(owner="w1", now=NOW) == []
    assert db.push.take(owner="w2", now=NOW + TTL + timedelta(seconds=1)) == []  # expired
    db.push.claim({"b@x": "graph"}, owner="w3", ttl=TTL, now=NOW + TTL + timedelta(seconds=1))
    assert db.push.take(owner="w3", now=NOW + TTL + timedelta(seconds=2)) == [("b@x", "changed")]
    # what nobody takes is dropped after QUEUE_KEEP
    db.push.take(owner="w1", now=NOW + timedelta(minutes=11))
    db.push.claim({"c@x": "graph"}, owner="w1", ttl=TTL, now=NOW + timedelta(minutes=11))
    assert db.push.take(owner="w1", now=NOW + timedelta(minutes=11)) == []


def test_a_notification_for_another_process_is_checked_queued_and_reaches_it(db: Any) -> None:
    import time

    from otj.worker.forwarding import QueueDrain
    from otj.worker.notifications import NotificationHub

    now = datetime.now(UTC)
    synced: list[str] = []
    events: list[tuple[str, str]] = []
    holder = NotificationHub(db)  # the worker process holding the room
    holder.start(synced.append, lifecycle=lambda r, e: events.append((r, e)), delay=0.01)
    db.push.claim({"a@x": "graph"}, owner="w1", ttl=TTL, now=now)
    holder.register("graph", "sub-1", "a@x", "tok")
    db.push.publish(
        "a@x",
        owner="w1",
        kind="graph",
        state="healthy",
        channel_id="sub-1",
        channel_expires_at=now + timedelta(days=1),
        token="tok",
    )
    api = NotificationHub(db)  # another process's API: holds nothing
    assert api.authenticate("graph", "sub-1", "forged") is None
    assert api.authenticate("graph", "sub-2", "tok") is None
    assert api.authenticate("graph", "sub-1", "tok") == "a@x"
    api.changed("a@x")
    api.lifecycle("a@x", "reauthorizationRequired")
    assert api.forwarded == 2
    assert synced == []
    drain = QueueDrain(db, owner="w1", deliver=holder.deliver, clock=lambda: datetime.now(UTC))
    drain.start()
    try:
        deadline = time.monotonic() + 10
        while (not synced or not events) and time.monotonic() < deadline:
            time.sleep(0.02)
        # queued later: PostgreSQL wakes the holder at once (NOTIFY), SQLite is polled (0.25 s)
        time.sleep(0.5)
        began = time.monotonic()
        api.changed("a@x")
        while len(synced) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert time.monotonic() - began < 1.0
    finally:
        drain.stop()
        holder.stop()
    assert synced == ["a@x", "a@x"]
    assert events == [("a@x", "reauthorizationRequired")]
    assert db.push.take(owner="w1", now=datetime.now(UTC)) == []
