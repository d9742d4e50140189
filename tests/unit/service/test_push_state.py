"""The push subscription state machine, the debouncer and the notification hub."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

from calendars.push import Channel
from otj.worker.notifications import Debouncer, NotificationHub, Registered
from otj.worker.push import (
    PushState,
    Subscription,
    failed,
    next_action,
    poll_interval,
    reauthorization_required,
    renewed,
    subscribed,
)

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
ROOM = "fjord@example.com"


def channel(hours: float = 48) -> Channel:
    return Channel(id="sub-1", expires_at=NOW + timedelta(hours=hours))


def test_a_new_room_subscribes_then_waits_until_renewal_is_due() -> None:
    sub = Subscription(room=ROOM, kind="graph")
    assert next_action(sub, now=NOW) == "subscribe"
    sub = subscribed(sub, channel(), token="t")
    assert sub.state is PushState.HEALTHY
    assert next_action(sub, now=NOW + timedelta(hours=47)) == "wait"
    assert next_action(sub, now=NOW + timedelta(hours=47, minutes=31)) == "renew"
    sub = renewed(sub, channel(hours=96))
    assert next_action(sub, now=NOW + timedelta(hours=48)) == "wait"


def test_an_expired_subscription_is_replaced_and_polled_normally_meanwhile() -> None:
    sub = subscribed(Subscription(room=ROOM, kind="graph"), channel(1), token="t")
    later = NOW + timedelta(hours=2)  # nobody renewed it: the service was down
    assert not sub.healthy(later)
    assert next_action(sub, now=later) == "subscribe"
    assert poll_interval(sub, normal=60, safety=900, now=later) == 60


def test_healthy_relaxes_the_interval_failure_restores_it_with_growing_retry() -> None:
    sub = subscribed(Subscription(room=ROOM, kind="graph"), channel(), token="t")
    assert poll_interval(sub, normal=60, safety=900, now=NOW) == 900
    assert poll_interval(sub, normal=1200, safety=900, now=NOW) == 1200  # never faster
    assert poll_interval(None, normal=60, safety=900, now=NOW) == 60
    one = failed(sub, now=NOW, reason="validation failed")
    assert one.state is PushState.FAILED
    assert one.channel is None
    assert poll_interval(one, normal=60, safety=900, now=NOW) == 60
    assert next_action(one, now=NOW) == "wait"
    assert next_action(one, now=NOW + timedelta(minutes=1)) == "subscribe"
    two = failed(one, now=NOW, reason="again")
    assert two.retry_at == NOW + timedelta(minutes=2)
    many = two
    for _ in range(20):
        many = failed(many, now=NOW, reason="again")
    assert many.retry_at == NOW + timedelta(hours=1)
    assert failed(sub, now=NOW, reason="removed", retry_now=True).retry_at == NOW


def test_reauthorization_required_renews_at_once() -> None:
    sub = subscribed(Subscription(room=ROOM, kind="graph"), channel(), token="t")
    asked = reauthorization_required(sub)
    assert next_action(asked, now=NOW) == "renew"
    assert next_action(renewed(asked, channel(96)), now=NOW) == "wait"
    fresh = Subscription(room=ROOM, kind="graph")
    assert reauthorization_required(fresh) == fresh


def wait_for(predicate, timeout: float = 5.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return bool(predicate())


def test_a_burst_of_notifications_is_one_sync() -> None:
    runs: list[str] = []
    debouncer = Debouncer(runs.append, delay=0.2)
    try:
        for _ in range(1000):
            debouncer.notify(ROOM)
        debouncer.notify("other@example.com")
        assert wait_for(lambda: debouncer.pending() == 0 and len(runs) == 2)
        time.sleep(0.3)
        assert sorted(runs) == sorted([ROOM, "other@example.com"])
    finally:
        debouncer.close()


def test_a_notification_during_a_sync_is_one_more_sync_after_it() -> None:
    started = threading.Event()
    release = threading.Event()
    runs: list[str] = []

    def run(room: str) -> None:
        runs.append(room)
        started.set()
        release.wait(5)

    debouncer = Debouncer(run, delay=0.05)
    try:
        debouncer.notify(ROOM)
        assert started.wait(5)
        for _ in range(50):
            debouncer.notify(ROOM)
        release.set()
        assert wait_for(lambda: len(runs) == 2 and debouncer.pending() == 0)
        time.sleep(0.2)
        assert runs == [ROOM, ROOM]
    finally:
        release.set()
        debouncer.close()


def test_the_hub_accepts_only_its_subscriptions_with_their_token() -> None:
    hub = NotificationHub()
    hub.register("graph", "sub-1", ROOM, "secret-token")
    assert hub.authenticate("graph", "sub-1", "secret-token") == ROOM
    assert hub.authenticate("graph", "sub-1", "wrong") is None
    assert hub.authenticate("graph", "sub-2", "secret-token") is None
    assert hub.authenticate("google", "sub-1", "secret-token") is None
    assert hub.authenticate("graph", "sub-1", None) is None
    hub.unregister("graph", "sub-1")
    assert hub.authenticate("graph", "sub-1", "secret-token") is None
    assert (hub.accepted, hub.rejected) == (1, 5)
    assert not hub.expects_validation("graph")
    with hub.validating("graph"):
        assert hub.expects_validation("graph")
        assert not hub.expects_validation("google")
    assert not hub.expects_validation("graph")


def test_the_secret_tokens_stay_out_of_reprs_and_logs() -> None:
    sub = subscribed(Subscription(room=ROOM, kind="graph"), channel(), token="secret-token")
    assert "secret-token" not in repr(sub)
    registered = Registered(kind="graph", subscription_id="sub-1", room=ROOM, token="secret-token")
    assert "secret-token" not in repr(registered)
