"""Store additions for delivery: the sealed HttpFeedback secret and the registered-URL digest."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from otj.model import Endpoint, EndpointGroup, Profile
from otj.store import Database
from otj.store.values import Configuration

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def configure(db: Database) -> None:
    db.config.apply(
        Configuration(
            sections=frozenset({"profiles", "endpoint_groups", "endpoints"}),
            profiles=(Profile(name="p"),),
            endpoint_groups=(EndpointGroup(name="g", profile="p"),),
            endpoints=(Endpoint(name="fjord", group="g", room_resource_email="fjord@x"),),
        )
    )


def test_feedback_secret_is_stable_sealed_and_checked(db: Database) -> None:
    configure(db)
    assert not db.delivery.check_feedback_secret("fjord", "anything")
    secret = db.delivery.feedback_secret("fjord", now=NOW)
    assert len(secret) >= 24
    assert db.delivery.feedback_secret("fjord", now=NOW) == secret
    assert db.delivery.check_feedback_secret("fjord", secret)
    assert not db.delivery.check_feedback_secret("fjord", secret + "x")
    assert not db.delivery.check_feedback_secret("other", secret)
    with db.engine.connect() as conn:
        stored = conn.exec_driver_sql(
            "SELECT feedback_secret FROM endpoint_delivery WHERE endpoint = 'fjord'"
        ).scalar_one()
    assert secret not in str(stored), "the secret must be sealed at rest"


def test_registered_digest_is_part_of_the_state(db: Database) -> None:
    configure(db)
    state = db.delivery.update("fjord", now=NOW, feedback_registered="ab" * 32)
    assert state.feedback_registered == "ab" * 32
    assert db.delivery.get("fjord").feedback_registered == "ab" * 32


def test_last_updated_of_a_room(db: Database) -> None:
    from tests.integration.delivery.storehelp import store_meetings
    from tests.unit.delivery.meetings import meeting

    configure(db)
    assert db.meetings.last_updated("fjord@x") is None
    store_meetings(db, "fjord@x", [meeting(room="fjord@x")], now=NOW)
    assert db.meetings.last_updated("FJORD@x") == NOW


def test_directory_cache_follows_configuration_revisions(db: Database) -> None:
    from dataclasses import replace

    from otj.delivery.pull.access import DirectoryCache

    configure(db)
    ticks = [0.0]
    cache = DirectoryCache(db, recheck=1.0, monotonic=lambda: ticks[0])
    first = cache.get()
    assert [e.name for e in first.room_endpoints("FJORD@x")] == ["fjord"]
    assert first.profile("fjord").name == "p"
    assert first.endpoint("fjord") is not None
    endpoint = first.endpoint("fjord")
    assert endpoint is not None
    db.config.apply(
        Configuration(
            sections=frozenset({"endpoints"}),
            endpoints=(replace(endpoint, room_resource_email="berg@x"),),
        )
    )
    assert cache.get() is first  # within the re-check interval
    ticks[0] = 1.5
    second = cache.get()
    assert second.revision > first.revision
    assert second.room_endpoints("fjord@x") == ()
    assert [e.name for e in second.room_endpoints("berg@x")] == ["fjord"]
    ticks[0] = 3.0
    assert cache.get() is second  # same revision: nothing re-read


def test_batched_state_updates_and_delivery_marks(db: Database) -> None:
    from tests.integration.delivery.storehelp import store_meetings
    from tests.unit.delivery.meetings import meeting

    configure(db)
    written = db.delivery.update_many(
        {
            "fjord": {"last_payload_hash": "h1", "consecutive_failures": 0},
            "gone": {"last_payload_hash": "x"},
        },
        now=NOW,
    )
    assert written == 1
    assert db.delivery.get("fjord").pushed_digest == "h1"
    with pytest.raises(TypeError):
        db.delivery.update_many({"fjord": {"nonsense": 1}}, now=NOW)
    store_meetings(db, "fjord@x", [meeting(room="fjord@x")], now=NOW)
    pending = {p.room: p.generation for p in db.rooms.pending_delivery()}
    assert db.rooms.listing_marker("FJORD@x")
    assert db.rooms.listing_marker("nowhere@x") is None
    assert db.rooms.mark_delivered_many({"fjord@x": pending["fjord@x"] - 1}) == []
    assert db.rooms.mark_delivered_many(pending) == ["fjord@x"]
    assert db.rooms.pending_delivery() == []
