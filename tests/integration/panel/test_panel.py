"""The room panel in headless Chromium (Debian's chromium driven by Playwright).

The page is served by uvicorn with the real store; the Join button dials a simulated Cisco codec.
Screenshots go to ``test-artifacts/`` (git-ignored) for people to look at.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi import FastAPI
from playwright.async_api import Browser, Page, expect

from otj.api import panel
from otj.model import Meeting
from otj.store import Database
from tests.conftest import FakeClock
from tests.fakes.cisco_codec import SimulatedCodec
from tests.integration.delivery.served import serve
from tests.integration.delivery.storehelp import codec_endpoint, configure, store_meetings
from tests.integration.panel.conftest import shot
from tests.unit.delivery.meetings import meeting

pytestmark = pytest.mark.peer

ROOM = "fjord@rooms.example.com"


def todays_meetings(clock: FakeClock, subject: str = "Design review <&> 🎨") -> list[Meeting]:
    now = clock.now()  # 09:00 UTC
    return [
        meeting(
            room=ROOM,
            event_id="early",
            subject="Stand-up",
            start=now - timedelta(hours=1),
            end=now - timedelta(minutes=45),
        ),
        meeting(
            room=ROOM,
            event_id="review",
            subject=subject,
            start=now + timedelta(minutes=30),
            end=now + timedelta(minutes=90),
        ),
        meeting(
            room=ROOM,
            event_id="lunch",
            subject="Lunch talk",
            alias=None,
            start=now + timedelta(hours=3),
            end=now + timedelta(hours=4),
        ),
        meeting(
            room=ROOM,
            event_id="tomorrow",
            subject="Tomorrow",
            start=now + timedelta(days=1),
            end=now + timedelta(days=1, hours=1),
        ),
    ]


@pytest.fixture
def site(db: Database, clock: FakeClock, codec: SimulatedCodec) -> Iterator[tuple[str, str]]:
    configure(db, [codec_endpoint("fjord", ROOM, port=codec.port)])
    store_meetings(db, ROOM, todays_meetings(clock), now=clock.now())
    token, _ = db.tokens.create("endpoint", "fjord", now=clock.now(), endpoint="fjord")
    app = FastAPI()
    app.include_router(panel.router(db, clock=clock.now, poll_ms=200, time_zone="UTC"))
    with serve(app) as url:
        yield url, token


async def open_panel(browser: Browser, url: str, token: str) -> tuple[Page, list[str]]:
    context = await browser.new_context(
        viewport={"width": 1280, "height": 800}, timezone_id="UTC", locale="en-GB", has_touch=True
    )
    page = await context.new_page()
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    await page.goto(f"{url}/panel/{ROOM}?token={token}")
    await expect(page.locator("#meetings li")).to_have_count(3)
    return page, requests


async def test_join_window_dial_and_failure(
    site: tuple[str, str], browser: Browser, clock: FakeClock, codec: SimulatedCodec
) -> None:
    url, token = site
    page, requests = await open_panel(browser, url, token)
    assert page.url == f"{url}/panel/{ROOM}", "the token must not stay in the address"
    join = page.locator("#join")
    await expect(page.locator("#hero-title")).to_have_text("Design review <&> 🎨")
    await expect(join).to_be_disabled()
    await expect(page.locator("#join-hint")).to_have_text("Join opens at 09:25")
    await shot(page, "before-window")

    clock.advance(26 * 60)  # 09:26: inside the join window, by the server's clock
    await expect(join).to_be_enabled()
    await expect(page.locator("#hero-label")).to_have_text("Next meeting")

    # keyboard: the big Join button is the first stop, Enter presses it
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.id") == "join"
    await page.keyboard.press("Enter")
    status = page.locator("#status")
    await expect(status).to_have_attribute("data-state", "dialling")
    await expect(status).to_have_text("Dialling abc-defg-hij@google.pexip.me")
    await codec.wait_until(lambda c: len(c.dials) == 1)
    assert codec.dials[0]["BookingId"] == "review"
    assert codec.dials[0]["Number"] == "abc-defg-hij@google.pexip.me"
    await shot(page, "dialling")

    # the codec refuses: the reason is shown; Space on the list's Join button also works
    codec.behaviour.dial_error = "Maximum number of calls reached"
    list_join = page.locator('.m-join[data-id="review"]')
    await list_join.focus()
    await page.keyboard.press("Space")
    await expect(status).to_have_attribute("data-state", "failed")
    await expect(status).to_have_text("Could not join: Maximum number of calls reached")
    await shot(page, "failed")

    assert all(r.startswith(url) for r in requests), "the panel must not load anything external"


async def test_updates_without_reload_and_fits_the_screen(
    site: tuple[str, str], browser: Browser, db: Database, clock: FakeClock
) -> None:
    url, token = site
    page, _ = await open_panel(browser, url, token)
    await page.evaluate("window.__sameDocument = true")
    polls = int(await page.evaluate("document.body.dataset.polls") or 0)
    store_meetings(
        db, ROOM, todays_meetings(clock, subject="Moved to the big room"), now=clock.now()
    )
    await expect(page.locator("#hero-title")).to_have_text("Moved to the big room")
    assert await page.evaluate("window.__sameDocument") is True
    assert int(await page.evaluate("document.body.dataset.polls")) > polls
    # 1280×800 without scrolling; touch-sized Join button; the meeting without video has none
    size = await page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.scrollHeight]"
    )
    assert size[0] <= 1280
    assert size[1] <= 800
    box = await page.locator("#join").bounding_box()
    assert box is not None
    assert box["height"] >= 100
    assert await page.locator('li[data-id="lunch"] button').count() == 0
    assert await page.locator('li[data-id="tomorrow"]').count() == 0
    await shot(page, "updated")


async def test_unpaired_panel_and_forged_dial(
    site: tuple[str, str], browser: Browser, clock: FakeClock, codec: SimulatedCodec
) -> None:
    url, _ = site
    page = await browser.new_page()
    response = await page.goto(f"{url}/panel/{ROOM}")
    assert response is not None
    assert response.status == 401
    await expect(page.locator("h1")).to_contain_text("not paired")
    bad = await page.goto(f"{url}/panel/{ROOM}?token=otj_wrong")
    assert bad is not None
    assert bad.status == 403
    # a dial without the panel cookie and header is refused, and nothing is dialled
    clock.advance(26 * 60)
    answer = await page.request.post(f"{url}/panel/{ROOM}/dial", data={"id": "review"})
    assert answer.status in (401, 403)
    assert codec.dials == []
