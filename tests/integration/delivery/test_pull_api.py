"""Pull API, iCalendar feed, OAuth client credentials and HttpFeedback over real HTTP (uvicorn)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import timedelta

import httpx
import icalendar
import pytest
from fastapi import FastAPI

from otj.api import feedback, pull
from otj.api.pull.documents import RoomDocuments
from otj.delivery.devices.cisco import FEEDBACK_EXPRESSIONS
from otj.delivery.engine.runner import DeliveryRunner
from otj.delivery.pull.access import NeedsRead
from otj.delivery.pull.feeds import strong_etag
from otj.model import Meeting
from otj.store import Database
from tests.conftest import FakeClock
from tests.fakes.cisco_codec import CodecFarm
from tests.integration.delivery.served import serve
from tests.integration.delivery.storehelp import codec_endpoint, configure, deliver, store_meetings
from tests.unit.delivery.meetings import meeting

FJORD = "fjord@rooms.example.com"
BERG = "berg@rooms.example.com"


def build_app(db: Database, clock: FakeClock) -> FastAPI:
    app = FastAPI(title="otj test")
    app.include_router(pull.router(db, clock=clock.now))
    app.include_router(feedback.router(db, clock=clock.now))
    return app


def meetings_for(room: str, clock: FakeClock, subject: str = "Weekly sync") -> list[Meeting]:
    start = clock.now() + timedelta(hours=1)
    return [
        meeting(room=room, event_id="m1", subject=subject, start=start, ical_uid="u1@example"),
        meeting(room=room, event_id="m2", alias=None, start=start + timedelta(hours=2)),
        meeting(room=room, event_id="m3", listed=False),
    ]


@pytest.fixture
def setup(db: Database, clock: FakeClock) -> Iterator[tuple[str, dict[str, str]]]:
    configure(db, [codec_endpoint("fjord", FJORD, port=1), codec_endpoint("berg", BERG, port=2)])
    store_meetings(db, FJORD, meetings_for(FJORD, clock), now=clock.now())
    tokens = {
        name: db.tokens.create("endpoint", name, now=clock.now(), endpoint=name)[0]
        for name in ("fjord", "berg")
    }
    with serve(build_app(db, clock)) as url:
        yield url, tokens


def test_meetings_json_with_etag(
    setup: tuple[str, dict[str, str]], db: Database, clock: FakeClock
) -> None:
    url, tokens = setup
    auth = {"Authorization": f"Bearer {tokens['fjord']}"}
    with httpx.Client(base_url=url) as client:
        first = client.get(f"/api/v1/rooms/{FJORD}/meetings", headers=auth)
        assert first.status_code == 200
        assert first.headers["content-type"] == "application/json"
        body = first.json()
        assert [m["id"] for m in body] == ["m1", "m2"]
        assert body[0]["alias"] == "abc-defg-hij@google.pexip.me"
        assert body[1]["alias"] is None
        etag = first.headers["etag"]
        assert etag.startswith('"')
        again = client.get(
            f"/api/v1/rooms/{FJORD}/meetings", headers={**auth, "If-None-Match": etag}
        )
        assert again.status_code == 304
        assert again.content == b""
        assert again.headers["etag"] == etag
        # the query parameter form (RFC 6750 §2.3) and room names in any case
        query = client.get(
            f"/api/v1/rooms/{FJORD.upper()}/meetings", params={"access_token": tokens["fjord"]}
        )
        assert query.status_code == 200
        empty_header = client.get(
            f"/api/v1/rooms/{FJORD}/meetings",
            headers={"Authorization": ""},
            params={"access_token": tokens["fjord"]},
        )
        assert empty_header.status_code == 200
        basic = client.get(
            f"/api/v1/rooms/{FJORD}/meetings",
            headers={"Authorization": "Basic Zm9vOmJhcg=="},
            params={"access_token": tokens["fjord"]},
        )
        assert basic.status_code == 401
        store_meetings(db, FJORD, meetings_for(FJORD, clock, subject="Changed"), now=clock.now())
        clock.advance(RoomDocuments.RECHECK.total_seconds())  # served within that time
        changed = client.get(
            f"/api/v1/rooms/{FJORD}/meetings", headers={**auth, "If-None-Match": etag}
        )
        assert changed.status_code == 200
        assert changed.json()[0]["subject"] == "Changed"
        assert changed.headers["etag"] != etag


@pytest.mark.parametrize(
    ("room", "token", "status", "error"),
    [
        (FJORD, None, 401, "unauthorized"),
        (FJORD, "otj_not-a-token", 401, "unauthorized"),
        (FJORD, "berg", 403, "forbidden"),
        ("nowhere@rooms.example.com", "fjord", 404, "not_found"),
    ],
)
def test_errors_are_json(
    setup: tuple[str, dict[str, str]], room: str, token: str | None, status: int, error: str
) -> None:
    url, tokens = setup
    headers = {"Authorization": f"Bearer {tokens.get(token or '', token)}"} if token else {}
    for suffix in ("meetings", "meetings.ics"):
        response = httpx.get(f"{url}/api/v1/rooms/{room}/{suffix}", headers=headers)
        assert response.status_code == status
        assert response.json()["error"] == error
        if status == 401:
            assert response.headers["www-authenticate"].startswith("Bearer")


def test_revoked_token_is_refused(
    setup: tuple[str, dict[str, str]], db: Database, clock: FakeClock
) -> None:
    url, tokens = setup
    auth = {"Authorization": f"Bearer {tokens['fjord']}"}
    with httpx.Client(base_url=url) as client:
        assert client.get(f"/api/v1/rooms/{FJORD}/meetings", headers=auth).status_code == 200
        # remembered by the server now; a revoke in this process is still immediate
        assert db.tokens.revoke("endpoint", "fjord", now=clock.now())
        response = client.get(f"/api/v1/rooms/{FJORD}/meetings", headers=auth)
        assert response.status_code == 401
        ics = client.get(f"/api/v1/rooms/{FJORD}/meetings.ics", headers=auth)
        assert ics.status_code == 401


def test_ics_feed(setup: tuple[str, dict[str, str]]) -> None:
    url, tokens = setup
    response = httpx.get(
        f"{url}/api/v1/rooms/{FJORD}/meetings.ics", params={"access_token": tokens["fjord"]}
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/calendar")
    calendar = icalendar.Calendar.from_ical(response.content)
    events = calendar.walk("VEVENT")
    assert [str(e["uid"]) for e in events] == ["u1@example", "m2@otj"]
    assert str(events[0]["conference"]) == "sip:abc-defg-hij@google.pexip.me"
    assert events[0]["conference"].params["FEATURE"] == "VIDEO"
    assert str(events[0]["location"]) == "sip:abc-defg-hij@google.pexip.me"
    again = httpx.get(
        f"{url}/api/v1/rooms/{FJORD}/meetings.ics",
        params={"access_token": tokens["fjord"]},
        headers={"If-None-Match": response.headers["etag"]},
    )
    assert again.status_code == 304


def test_oauth_client_credentials(setup: tuple[str, dict[str, str]], clock: FakeClock) -> None:
    url, tokens = setup
    with httpx.Client(base_url=url) as client:
        granted = client.post(
            "/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": "fjord",
                "client_secret": tokens["fjord"],
            },
        )
        assert granted.status_code == 200
        assert granted.headers["cache-control"] == "no-store"
        access = granted.json()
        assert access["token_type"] == "Bearer"
        assert access["expires_in"] == 3600
        meetings = client.get(
            f"/api/v1/rooms/{FJORD}/meetings",
            headers={"Authorization": f"Bearer {access['access_token']}"},
        )
        assert meetings.status_code == 200
        # HTTP Basic client authentication (RFC 6749 §2.3.1) works too
        basic = client.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=("fjord", tokens["fjord"]),
        )
        assert basic.status_code == 200
        wrong = client.post(
            "/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": "berg",
                "client_secret": tokens["fjord"],
            },
        )
        assert (wrong.status_code, wrong.json()["error"]) == (401, "invalid_client")
        grant = client.post("/oauth/token", data={"grant_type": "password"})
        assert (grant.status_code, grant.json()["error"]) == (400, "unsupported_grant_type")
        clock.advance(3601)
        expired = client.get(
            f"/api/v1/rooms/{FJORD}/meetings",
            headers={"Authorization": f"Bearer {access['access_token']}"},
        )
        assert expired.status_code == 401
        forged = client.get(
            f"/api/v1/rooms/{FJORD}/meetings",
            headers={"Authorization": "Bearer otjat_gAAAAABforged"},
        )
        assert forged.status_code == 401


def test_feedback_receiver(
    setup: tuple[str, dict[str, str]], db: Database, clock: FakeClock
) -> None:
    url, _ = setup
    db.rooms.mark_delivered(FJORD, db.rooms.pending_delivery()[0].generation)
    secret = db.delivery.feedback_secret("fjord", now=clock.now())
    event = (
        b"<Event><Identification><SystemName>fjord</SystemName></Identification>"
        b'<Bookings item="1"><SyncRequired item="1"/></Bookings></Event>'
    )
    wrong = httpx.post(f"{url}/api/v1/endpoints/fjord/feedback/{secret}x", content=event)
    assert wrong.status_code == 404
    assert not db.delivery.get("fjord").sync_required
    garbage = httpx.post(f"{url}/api/v1/endpoints/fjord/feedback/{secret}", content=b"<<no")
    assert garbage.status_code == 400
    ok = httpx.post(
        f"{url}/api/v1/endpoints/fjord/feedback/{secret}",
        content=event,
        headers={"Content-Type": "text/xml"},
    )
    assert ok.status_code == 204
    assert db.delivery.get("fjord").sync_required
    assert [p.room for p in db.rooms.pending_delivery()] == [FJORD]


@pytest.fixture
async def farm() -> AsyncIterator[CodecFarm]:
    async with CodecFarm() as codec_farm:
        yield codec_farm


async def test_sync_required_from_a_codec_triggers_a_repush(
    db: Database, clock: FakeClock, farm: CodecFarm
) -> None:
    codec = await farm.add("fjord")
    configure(db, [codec_endpoint("fjord", FJORD, port=codec.port)])
    store_meetings(db, FJORD, meetings_for(FJORD, clock), now=clock.now())
    with serve(build_app(db, clock)) as url:
        runner = DeliveryRunner(db, feedback_base_url=url)
        try:
            first = await deliver(runner, now=clock.now())
            assert first.pushed == 1
            assert codec.feedback[1].expressions == FEEDBACK_EXPRESSIONS
            codec.bookings = []  # the device lost its list and says so
            assert await codec.emit_booking_event("SyncRequired") == [204]
            clock.advance(10)
            second = await deliver(runner, now=clock.now())
            assert second.pushed == 1
            assert len(codec.bookings) == 2
        finally:
            runner.close()


def test_room_documents_are_cached_until_the_listing_or_the_window_changes(
    db: Database, clock: FakeClock
) -> None:
    configure(db, [codec_endpoint("fjord", FJORD, port=1)])
    start = clock.now() + timedelta(minutes=10)
    store_meetings(
        db,
        FJORD,
        [meeting(room=FJORD, event_id="soon", start=start, end=start + timedelta(minutes=20))],
        now=clock.now(),
    )
    documents = RoomDocuments(db)
    recheck = RoomDocuments.RECHECK.total_seconds()
    calls: list[str] = []
    original = db.meetings.list

    def counting(*args: object, **kwargs: object) -> list[Meeting]:
        calls.append("list")
        return original(*args, **kwargs)  # type: ignore[arg-type]

    db.meetings.list = counting  # type: ignore[method-assign]
    with pytest.raises(NeedsRead):
        documents.get("json", FJORD, days=7, name="", now=clock.now(), may_read=False)
    first = documents.get("json", FJORD, days=7, name="", now=clock.now())
    assert first.etag == strong_etag(first.body)
    assert documents.get("json", FJORD, days=7, name="", now=clock.now(), may_read=False) is first
    assert len(calls) == 1
    clock.advance(30)
    with pytest.raises(NeedsRead):  # the listing hashes are due to be read again
        documents.get("json", FJORD, days=7, name="", now=clock.now(), may_read=False)
    assert documents.get("json", FJORD, days=7, name="", now=clock.now()) is first
    store_meetings(
        db,
        FJORD,
        [
            meeting(
                room=FJORD,
                event_id="soon",
                subject="Renamed",
                start=start,
                end=start + timedelta(minutes=20),
            )
        ],
        now=clock.now(),
    )
    # the documented bound: a change is served at most RECHECK after it was committed
    assert documents.get("json", FJORD, days=7, name="", now=clock.now()) is first
    clock.advance(recheck)
    renamed = documents.get("json", FJORD, days=7, name="", now=clock.now())
    assert b"Renamed" in renamed.body
    assert renamed.etag != first.etag
    assert len(calls) == 2
    clock.advance(13 * 3600)  # the meeting ended more than 12 hours ago: it leaves the list
    assert documents.get("json", FJORD, days=7, name="", now=clock.now()).body == b"[]"
