"""The room panel says why the room's last call ended (not admitted from the meeting's lobby,
declined by the host) and offers "Try again"; headless Chromium against the real store and a
simulated codec."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi import FastAPI
from playwright.async_api import Browser, expect

from otj.api import panel
from otj.store import Database
from tests.conftest import FakeClock
from tests.fakes.cisco_codec import SimulatedCodec
from tests.integration.delivery.served import serve
from tests.integration.delivery.storehelp import codec_endpoint, configure, store_meetings
from tests.integration.panel.conftest import shot
from tests.integration.panel.test_panel import ROOM, open_panel, todays_meetings

pytestmark = pytest.mark.peer

POLL_MS = 200


@pytest.fixture
def site(db: Database, clock: FakeClock, codec: SimulatedCodec) -> Iterator[tuple[str, str]]:
    configure(db, [codec_endpoint("fjord", ROOM, port=codec.port)])
    store_meetings(db, ROOM, todays_meetings(clock), now=clock.now())
    token, _ = db.tokens.create("endpoint", "fjord", now=clock.now(), endpoint="fjord")
    app = FastAPI()
    app.include_router(panel.router(db, clock=clock.now, poll_ms=POLL_MS, time_zone="UTC"))
    with serve(app) as url:
        yield url, token


def ended_call(db: Database, clock: FakeClock, cause: str, *, code: int = 200) -> int:
    """A call of the room's codec that ended just now (as the gateway records one)."""
    now = clock.now()
    record = db.calls.start(
        call_id=f"{cause}-{now.timestamp()}@127.0.0.1",
        direction="inbound",
        caller_uri="sip:fjord@127.0.0.1",
        invite_at=now - timedelta(seconds=31),
        endpoint_name="fjord",
        dialled_alias="abc-defg-hij@google.pexip.me",
    )
    if code == 200:
        db.calls.update(record.id, answer_at=now - timedelta(seconds=30))
    db.calls.finish(record.id, end_at=now, cause=cause, final_code=code)
    return record.id


async def test_not_admitted_shows_why_and_try_again_dials_the_meeting_again(
    site: tuple[str, str], browser: Browser, db: Database, clock: FakeClock, codec: SimulatedCodec
) -> None:
    url, token = site
    page, requests = await open_panel(browser, url, token)
    box = page.locator("#notice")
    await expect(box).to_be_hidden()
    ended_call(db, clock, "not_admitted")
    started = time.monotonic()
    await expect(box).to_be_visible()
    print(f"call record → notice on the panel: {(time.monotonic() - started) * 1000:.0f} ms")
    await expect(page.locator("#notice-title")).to_have_text("Not admitted to the meeting")
    await expect(page.locator("#notice-text")).to_have_text(
        "Nobody let you into the meeting within 30 seconds. "
        "Try again, or ask the host to admit 'fjord'."
    )
    size = await page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.scrollHeight]"
    )
    assert size[0] <= 1280
    assert size[1] <= 800  # still no scrolling
    await shot(page, "not-admitted")

    await page.locator("#notice-retry").click()
    await expect(box).to_be_hidden()
    await expect(page.locator("#status")).to_have_text("Dialling the meeting again")
    await codec.wait_until(lambda c: len(c.dials) == 1)
    assert codec.dials[0]["Number"] == "abc-defg-hij@google.pexip.me"
    assert codec.dials[0]["BookingId"] == ""
    # closed here: it stays closed although the state still carries it
    polls = int(await page.evaluate("document.body.dataset.polls"))
    await expect(page.locator("body")).not_to_have_attribute("data-polls", str(polls))
    await expect(box).to_be_hidden()
    # two minutes on, the notice is gone from the state for every panel
    clock.advance(121)
    fresh, _ = await open_panel(browser, url, token)
    await expect(fresh.locator("#notice")).to_be_hidden()
    assert all(r.startswith(url) for r in requests)


async def test_declined_says_so_without_try_again_and_closes(
    site: tuple[str, str], browser: Browser, db: Database, clock: FakeClock, codec: SimulatedCodec
) -> None:
    url, token = site
    ended_call(db, clock, "call_rejected", code=480)
    page, _ = await open_panel(browser, url, token)
    await expect(page.locator("#notice")).to_be_visible()
    await expect(page.locator("#notice-text")).to_have_text("The meeting host declined the call.")
    await expect(page.locator("#notice-retry")).to_be_hidden()
    await shot(page, "declined")
    await page.locator("#notice-close").click()
    await expect(page.locator("#notice")).to_be_hidden()
    assert codec.dials == []


async def test_retry_is_refused_for_another_rooms_or_a_completed_call(
    site: tuple[str, str], browser: Browser, db: Database, clock: FakeClock, codec: SimulatedCodec
) -> None:
    url, token = site
    page, _ = await open_panel(browser, url, token)
    completed = ended_call(db, clock, "completed")
    declined = ended_call(db, clock, "call_rejected", code=480)
    other = db.calls.start(
        call_id="other@127.0.0.1",
        direction="inbound",
        caller_uri="sip:bay@127.0.0.1",
        invite_at=clock.now(),
        endpoint_name="bay",
        dialled_alias="sip:premium-rate@example.com",
    )
    db.calls.finish(other.id, end_at=clock.now(), cause="not_admitted", final_code=200)
    headers = {"Content-Type": "application/json", "X-OTJ-Panel": "1"}
    for call, reason in (
        (completed, "this call cannot be tried again"),
        (declined, "this call cannot be tried again"),
        (other.id, "no such call from this room"),
        (999999, "no such call from this room"),
    ):
        answer = await page.request.post(
            f"{url}/panel/{ROOM}/retry", data={"call": call}, headers=headers
        )
        assert answer.status == 409
        assert (await answer.json())["reason"] == reason
    unpaired = await browser.new_page()
    answer = await unpaired.request.post(
        f"{url}/panel/{ROOM}/retry", data={"call": completed}, headers=headers
    )
    assert answer.status == 401
    assert codec.dials == []
