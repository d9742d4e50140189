"""Microsoft Graph change notifications end to end: the Graph fake (subscriptions, validation
handshake, notifications as Graph sends them), the real Graph client (msal + httpx), the otj
HTTP API over TLS (uvicorn) and the worker."""

from __future__ import annotations

import ssl
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from otj.worker.intervals import room_intervals
from otj.worker.push import PushState
from tests.fakes.google_calendar_http import self_signed_certificate
from tests.fakes.graph import GraphFake
from tests.fakes.graph_store import FakeEvent
from tests.integration.service.push_support import ROOM, Running, eventually, running

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def tls(tmp_path: Path) -> tuple[Path, Path]:
    return self_signed_certificate(tmp_path)


@pytest.fixture
def fake(tls: tuple[Path, Path]) -> Any:
    with GraphFake(tls=tls, notification_ca=tls[0]) as graph:
        graph.store.add_mailbox(ROOM)
        yield graph


def meeting(subject: str) -> FakeEvent:
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=2)
    return FakeEvent(subject=subject, start=start, end=start + timedelta(hours=1))


def subject_of(run: Running, item_id: str) -> str | None:
    stored = run.db.meetings.get(ROOM, item_id)
    return stored.subject if stored is not None else None


def delta_reads(fake: GraphFake) -> int:
    return fake.requests_by_room[ROOM]


def settled(fake: GraphFake) -> int:
    """The fake's read count once no read happened for a second (pending syncs are done)."""
    last, since = delta_reads(fake), time.monotonic()
    while time.monotonic() - since < 1.0:
        time.sleep(0.05)
        if delta_reads(fake) != last:
            last, since = delta_reads(fake), time.monotonic()
    return last


def subscribed(run: Running) -> None:
    eventually(
        lambda: (s := run.push.subscription(ROOM)) is not None and s.healthy(datetime.now(UTC))
    )


def test_a_change_reaches_the_store_within_seconds_and_polling_relaxes(
    db: Any, fake: GraphFake, tls: tuple[Path, Path]
) -> None:
    item = fake.add_event(ROOM, meeting("Planning"))
    with running(db, fake, tls, rooms=[ROOM], poll_interval=600) as run:
        subscribed(run)
        eventually(lambda: subject_of(run, item) == "Planning")
        (sub,) = fake.subscriptions.active(ROOM)
        assert sub.resource == f"/users/{ROOM}/events"
        assert sub.lifecycle_url.endswith("/notifications/graph/lifecycle")
        assert all(status == 200 for _, status in fake.subscriptions.log.validations)
        jobs = {job["id"]: job for job in run.service.jobs()}
        assert jobs[f"room:{ROOM}"]["trigger"].interval == 1200  # the safety net
        in_force = room_intervals(db, now=datetime.now(UTC))[ROOM]  # as otj status rooms shows
        assert (in_force.seconds, in_force.reason) == (
            1200,
            "push notifications healthy: notification_safety_poll 1200 s",
        )

        fake.store.update(ROOM, item, subject="Planning (moved)")
        seconds = eventually(lambda: subject_of(run, item) == "Planning (moved)", timeout=10)
        assert seconds < 5, f"change took {seconds:.1f} s"
        assert all(d.status == 202 for d in fake.subscriptions.deliveries())
        created = fake.add_event(ROOM, meeting("Retro"))
        eventually(lambda: subject_of(run, created) == "Retro", timeout=10)
        fake.store.delete(ROOM, created)
        eventually(lambda: subject_of(run, created) is None, timeout=10)
    assert fake.subscriptions.active(ROOM) == []  # the worker stopping deleted it
    assert room_intervals(db, now=datetime.now(UTC))[ROOM].seconds == 600


def test_forged_notifications_change_nothing(
    db: Any, fake: GraphFake, tls: tuple[Path, Path]
) -> None:
    item = fake.add_event(ROOM, meeting("Planning"))
    with running(db, fake, tls, rooms=[ROOM]) as run:
        subscribed(run)
        eventually(lambda: subject_of(run, item) == "Planning")
        (sub,) = fake.subscriptions.active(ROOM)
        sub.change_types = frozenset()  # the fake stays silent about the next change …
        fake.store.delete(ROOM, item)  # … so only a (forged) notification could sync it
        reads = settled(fake)
        forged = [
            {"subscriptionId": sub.id, "clientState": "guessed", "changeType": "deleted"},
            {"subscriptionId": "0d1c5e7a-unknown", "clientState": sub.client_state},
        ]
        url = f"{run.base_url}/notifications/graph"
        with httpx.Client(verify=ssl.create_default_context(cafile=str(tls[0]))) as http:
            for body in ({"value": forged}, {"value": [forged[0]]}):
                assert http.post(url, json=body).status_code == 403
            lifecycle = {"value": [{**forged[0], "lifecycleEvent": "subscriptionRemoved"}]}
            assert http.post(f"{url}/lifecycle", json=lifecycle).status_code == 403
            validation = http.post(f"{url}?validationToken=probe")
            assert validation.status_code == 404  # no subscription is being opened
        time.sleep(1.5)
        assert delta_reads(fake) == reads
        assert subject_of(run, item) == "Planning"
        assert run.push.subscription(ROOM).state is PushState.HEALTHY  # type: ignore[union-attr]


def test_unreachable_notification_url_raises_an_alarm_and_keeps_polling(
    db: Any, fake: GraphFake, tls: tuple[Path, Path]
) -> None:
    item = fake.add_event(ROOM, meeting("Planning"))
    closed = "https://127.0.0.1:9"  # discard port: nothing listens
    with running(db, fake, tls, rooms=[ROOM], public_url=closed, poll_interval=60) as run:
        eventually(
            lambda: (s := run.push.subscription(ROOM)) is not None and s.state is PushState.FAILED
        )
        (alarm,) = db.alarms.active(subject=ROOM, kind="push_subscription")
        assert "https://127.0.0.1:9/notifications/graph" in alarm.message
        assert "validation" in alarm.message
        assert "polling" in alarm.message
        eventually(lambda: subject_of(run, item) == "Planning")
        jobs = {job["id"]: job for job in run.service.jobs()}
        assert jobs[f"room:{ROOM}"]["trigger"].interval == 60  # normal interval
        assert fake.subscriptions.active(ROOM) == []
        db.alarms.clear(None, ROOM, now=datetime.now(UTC))  # as a recovered poll does
        run.push.tick()  # not yet time to retry, but the failure is still alarmed
        (again,) = db.alarms.active(subject=ROOM, kind="push_subscription")
        assert "could not be subscribed" in again.message


def test_a_burst_of_1000_notifications_is_one_or_few_syncs(
    db: Any, fake: GraphFake, tls: tuple[Path, Path]
) -> None:
    item = fake.add_event(ROOM, meeting("Planning"))
    with running(db, fake, tls, rooms=[ROOM]) as run:
        subscribed(run)
        eventually(lambda: subject_of(run, item) == "Planning")
        reads = settled(fake)
        for i in range(1000):
            fake.store.update(ROOM, item, subject=f"Planning v{i}")
        eventually(lambda: len(fake.subscriptions.deliveries()) >= 1000, timeout=60)
        eventually(lambda: subject_of(run, item) == "Planning v999", timeout=15)
        assert all(d.status == 202 for d in fake.subscriptions.deliveries())
        syncs = delta_reads(fake) - reads
        assert 1 <= syncs <= 12, f"{syncs} syncs for 1,000 notifications"


def test_lifecycle_notifications_renew_resubscribe_and_resync(
    db: Any, fake: GraphFake, tls: tuple[Path, Path]
) -> None:
    item = fake.add_event(ROOM, meeting("Planning"))
    with running(db, fake, tls, rooms=[ROOM]) as run:
        subscribed(run)
        eventually(lambda: subject_of(run, item) == "Planning")
        (first,) = fake.subscriptions.active(ROOM)
        old_expiry = first.expires
        first.expires = old_expiry - timedelta(days=3)  # as if created days ago
        assert fake.subscriptions.lifecycle(first.id, "reauthorizationRequired").status == 202
        eventually(lambda: first.expires > old_expiry - timedelta(days=1))  # renewed (PATCH)

        first.change_types = frozenset()  # Graph lost track: the change is missed …
        fake.store.update(ROOM, item, subject="Planning (missed)")
        assert fake.subscriptions.lifecycle(first.id, "missed").status == 202
        eventually(lambda: subject_of(run, item) == "Planning (missed)", timeout=10)

        assert fake.subscriptions.lifecycle(first.id, "subscriptionRemoved").status == 202
        eventually(lambda: [s.id for s in fake.subscriptions.active(ROOM)] not in ([], [first.id]))
        (second,) = fake.subscriptions.active(ROOM)
        fake.store.update(ROOM, item, subject="Planning (after)")
        eventually(lambda: subject_of(run, item) == "Planning (after)", timeout=10)
        assert run.hub.authenticate("graph", first.id, first.client_state) is None
        assert second.client_state != first.client_state


def test_a_room_removed_from_the_configuration_is_unsubscribed(
    db: Any, fake: GraphFake, tls: tuple[Path, Path]
) -> None:
    other = "glacier@example.com"
    fake.store.add_mailbox(other)
    with running(db, fake, tls, rooms=[ROOM, other]) as run:
        subscribed(run)
        eventually(lambda: len(fake.subscriptions.active()) == 2)
        from tests.integration.service.push_support import graph_config
        from tests.integration.service.support import apply

        apply(db, graph_config(fake, tls[0], [ROOM], poll_interval=600), prune=True)
        run.service.poller.plans.refresh()
        run.push.tick()
        assert [s.room for s in fake.subscriptions.active()] == [ROOM]
        assert run.push.subscription(other) is None


def test_a_subscription_that_expired_while_otj_was_down_is_replaced(
    db: Any, fake: GraphFake, tls: tuple[Path, Path]
) -> None:
    item = fake.add_event(ROOM, meeting("Planning"))
    with running(db, fake, tls, rooms=[ROOM]) as run:
        subscribed(run)
        (first,) = fake.subscriptions.active(ROOM)
        first.expires = datetime.now(UTC) - timedelta(seconds=1)  # Graph dropped it meanwhile
        assert fake.subscriptions.active(ROOM) == []
        # the next renewal (here asked for at once) finds it gone: a new subscription replaces it
        run.push.lifecycle(ROOM, "reauthorizationRequired")
        run.push.tick()  # PATCH → 404: failed, retry now
        run.push.tick()  # subscribe again
        (second,) = fake.subscriptions.active(ROOM)
        assert second.id != first.id
        assert run.push.subscription(ROOM).healthy(datetime.now(UTC))  # type: ignore[union-attr]
        fake.store.update(ROOM, item, subject="Planning (after the outage)")
        eventually(lambda: subject_of(run, item) == "Planning (after the outage)", timeout=10)


def test_renewal_while_graph_is_down_keeps_the_subscription_and_retries(
    db: Any, fake: GraphFake, tls: tuple[Path, Path]
) -> None:
    item = fake.add_event(ROOM, meeting("Planning"))
    with running(db, fake, tls, rooms=[ROOM]) as run:
        subscribed(run)
        (sub,) = fake.subscriptions.active(ROOM)
        sub.expires -= timedelta(days=3)  # as if created days ago
        before = sub.expires
        fake.fail(status=503, path_contains="/subscriptions/", times=1)
        run.push.lifecycle(ROOM, "reauthorizationRequired")
        run.push.tick()  # PATCH → 503: still subscribed, renewal pending
        assert sub.expires == before
        assert run.push.subscription(ROOM).healthy(datetime.now(UTC))  # type: ignore[union-attr]
        assert not db.alarms.active(subject=ROOM, kind="push_subscription")
        run.push.tick()  # Graph is back: renewed, the same subscription
        assert [s.id for s in fake.subscriptions.active(ROOM)] == [sub.id]
        assert sub.expires > before
        fake.store.update(ROOM, item, subject="Planning (still pushed)")
        eventually(lambda: subject_of(run, item) == "Planning (still pushed)", timeout=10)
