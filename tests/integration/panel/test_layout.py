"""The room panel's title, layout and times, in headless Chromium at the panel sizes.

The title is the room's name (not the endpoint's description); the page fits 800×480 (a 7"
panel), 1280×800 and 800×1280 portrait without clipping the title, splitting a word or wrapping
the clock (checked on the rendered boxes; screenshots in ``test-artifacts/``); times are in the
room's time zone and the viewer's locale.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from playwright.async_api import Browser, Page, expect

from otj.api import panel
from otj.model import Profile
from otj.store import Database
from tests.conftest import FakeClock
from tests.fakes.cisco_codec import SimulatedCodec
from tests.integration.delivery.served import serve
from tests.integration.delivery.storehelp import codec_endpoint, configure, store_meetings
from tests.integration.panel.conftest import shot
from tests.integration.panel.test_panel import ROOM, todays_meetings
from tests.unit.delivery.meetings import meeting

pytestmark = pytest.mark.peer

NAME = "Oslo Fjord boardroom, 4th floor"
SUBJECT = "Quarterly planning with the partner organisation's leadership team"
SIZES = {"7-inch": (800, 480), "landscape": (1280, 800), "portrait": (800, 1280)}

#: Layout problems of the rendered page, as sentences (empty: fits).
LAYOUT_PROBLEMS = """() => {
  const problems = [];
  const W = window.innerWidth, H = window.innerHeight;
  const doc = document.documentElement;
  const show = (r) => `${Math.round(r.left)},${Math.round(r.top)}-` +
                      `${Math.round(r.right)},${Math.round(r.bottom)}`;
  if (doc.scrollWidth > doc.clientWidth) problems.push(`page too wide: ${doc.scrollWidth}`);
  if (doc.scrollHeight > doc.clientHeight) problems.push(`page too tall: ${doc.scrollHeight}`);
  const boxed = ["#room-name", "#clock", ".top", ".layout", "#hero", "#hero-label", "#hero-title",
                 "#hero-when", "#hero-organizer", "#join", "#join-hint", "#status", ".agenda",
                 "#today-title"];
  for (const selector of boxed) {
    for (const e of document.querySelectorAll(selector)) {
      const r = e.getBoundingClientRect();
      if (r.left < 0 || r.top < 0 || r.right > W + 0.5 || r.bottom > H + 0.5)
        problems.push(`${selector} outside the ${W}x${H} screen: ${show(r)}`);
    }
  }
  const contained = [["#hero > *", "#hero"], ["#meetings li", ".agenda"],
                     ["#meetings li > *", "#meetings"], [".top > *", ".top"]];
  for (const [selector, outer] of contained) {
    const o = document.querySelector(outer).getBoundingClientRect();
    for (const e of document.querySelectorAll(selector)) {
      const r = e.getBoundingClientRect();
      if (r.left < o.left - 0.5 || r.right > o.right + 0.5)
        problems.push(`${selector} sticks out of ${outer}: ${show(r)} in ${show(o)}`);
    }
  }
  for (const selector of ["#room-name", "#clock", ".agenda", "#meetings", ".m-subject"]) {
    for (const e of document.querySelectorAll(selector)) {
      if (e.scrollWidth > e.clientWidth)
        problems.push(`${selector} overflows sideways: ${e.scrollWidth} > ${e.clientWidth}`);
    }
  }
  for (const selector of ["#room-name", "#hero-title", "#clock"]) {
    const e = document.querySelector(selector);
    if (e.clientHeight < parseFloat(getComputedStyle(e).lineHeight) - 1)
      problems.push(`${selector} is squeezed below one line: ${e.clientHeight}px`);
  }
  const title = document.getElementById("room-name");
  if (title.scrollHeight > title.clientHeight + 1)
    problems.push(`the title is clipped: ${title.scrollHeight} > ${title.clientHeight}`);
  const lines = (node, start, end) => {
    const range = document.createRange();
    range.setStart(node, start);
    range.setEnd(node, end);
    return new Set([...range.getClientRects()].filter((r) => r.width > 0)
                                              .map((r) => Math.round(r.top))).size;
  };
  for (const selector of ["#room-name", "#hero-title", ".m-subject", "#hero-when", ".m-time"]) {
    for (const e of document.querySelectorAll(selector)) {
      const text = e.firstChild;
      if (!text || text.nodeType !== Node.TEXT_NODE) continue;
      for (const word of text.data.matchAll(/\\S+/g)) {
        if (lines(text, word.index, word.index + word[0].length) > 1)
          problems.push(`${selector}: the word ${JSON.stringify(word[0])} is split`);
      }
    }
  }
  const clock = document.getElementById("clock").firstChild;
  if (!clock) problems.push("no clock");
  else if (lines(clock, 0, clock.data.length) !== 1) problems.push(`clock wraps: ${clock.data}`);
  return problems;
}"""


def the_room(db: Database, clock: FakeClock, codec: SimulatedCodec, *, zone: str) -> str:
    """The room's endpoint (named ``NAME``, with a description) and its meetings; its token."""
    endpoint = codec_endpoint("fjord", ROOM, port=codec.port)
    configure(
        db,
        [replace(endpoint, name=NAME, description="Demo room (pull API and room panel)")],
        profile=Profile(name="Head office", time_zone=zone),
    )
    items = [
        *todays_meetings(clock, subject=SUBJECT),
        # 15:30 UTC: today in London, tomorrow (00:30) in Tokyo
        meeting(
            room=ROOM,
            event_id="late",
            subject="Late call",
            start=clock.now() + timedelta(hours=6, minutes=30),
            end=clock.now() + timedelta(hours=7),
        ),
    ]
    store_meetings(db, ROOM, items, now=clock.now())
    token, _ = db.tokens.create("endpoint", "panel", now=clock.now(), endpoint=NAME)
    return token


@pytest.fixture
def tokyo(db: Database, clock: FakeClock, codec: SimulatedCodec) -> Iterator[tuple[str, str]]:
    token = the_room(db, clock, codec, zone="Asia/Tokyo")
    app = FastAPI()
    app.include_router(panel.router(db, clock=clock.now, poll_ms=200, time_zone="Europe/London"))
    with serve(app) as url:
        yield url, token


async def open_panel(
    browser: Browser, url: str, token: str, *, size: tuple[int, int], **context: Any
) -> Page:
    width, height = size
    options: dict[str, Any] = {"timezone_id": "UTC", "locale": "en-US", **context}
    page = await (
        await browser.new_context(
            viewport={"width": width, "height": height}, has_touch=True, **options
        )
    ).new_page()
    await page.goto(f"{url}/panel/{ROOM}?token={token}")
    await expect(page.locator("#hero-title")).to_have_text(SUBJECT)
    return page


async def test_the_title_is_the_rooms_name(
    tokyo: tuple[str, str], browser: Browser, clock: FakeClock
) -> None:
    url, token = tokyo
    page = await open_panel(browser, url, token, size=SIZES["landscape"])
    await expect(page.locator("#room-name")).to_have_text(NAME)
    assert await page.title() == f"{NAME} · Meetings"
    # two polls of the state (not wait_for_function: the page's CSP forbids its eval)
    await expect(page.locator("body")).to_have_attribute(
        "data-polls", re.compile(r"^([2-9]|\d\d+)$")
    )
    await expect(page.locator("#room-name")).to_have_text(NAME)  # the state keeps it


@pytest.mark.parametrize("size", list(SIZES))
async def test_fits_the_panel_sizes(
    tokyo: tuple[str, str], browser: Browser, clock: FakeClock, codec: SimulatedCodec, size: str
) -> None:
    url, token = tokyo
    page = await open_panel(browser, url, token, size=SIZES[size])
    await expect(page.locator("#clock")).not_to_be_empty()
    path = await shot(page, f"layout-{size}")
    problems = await page.evaluate(LAYOUT_PROBLEMS)
    assert problems == [], f"{size} ({path.name}): {problems}"
    box = await page.locator("#join").bounding_box()
    assert box is not None
    assert box["height"] >= 60, "the Join button stays finger-sized"
    # inside the join window, a refused call: the reason fits too
    clock.advance(26 * 60)
    codec.behaviour.dial_error = "Maximum number of calls reached"
    await expect(page.locator("#join")).to_be_enabled()
    await page.locator("#join").click()
    await expect(page.locator("#status")).to_have_attribute("data-state", "failed")
    path = await shot(page, f"layout-{size}-failed")
    problems = await page.evaluate(LAYOUT_PROBLEMS)
    assert problems == [], f"{size} ({path.name}): {problems}"


async def test_times_in_the_rooms_zone_and_the_viewers_locale(
    tokyo: tuple[str, str], browser: Browser, clock: FakeClock
) -> None:
    url, token = tokyo
    # the browser's own zone is UTC: 09:00 there, 18:00 in the room (Asia/Tokyo)
    page = await open_panel(browser, url, token, size=SIZES["landscape"])
    await expect(page.locator("#clock")).to_have_text("06:00 PM")
    await expect(page.locator("#join-hint")).to_have_text("Join opens at 06:25 PM")
    await expect(page.locator("#hero-when")).to_have_text("06:30 PM – 07:30 PM")
    # 15:30 UTC is tomorrow in Tokyo: not in today's list
    await expect(page.locator("#meetings li")).to_have_count(3)
    assert await page.locator('li[data-id="late"]').count() == 0
    # another viewer's locale: the same zone, 24-hour German times
    german = await open_panel(browser, url, token, size=SIZES["landscape"], locale="de-DE")
    await expect(german.locator("#clock")).to_have_text("18:00")
    await expect(german.locator("#join-hint")).to_have_text("Join opens at 18:25")


async def test_without_a_zone_the_servers(
    db: Database, browser: Browser, clock: FakeClock, codec: SimulatedCodec
) -> None:
    token = the_room(db, clock, codec, zone="")
    app = FastAPI()
    app.include_router(panel.router(db, clock=clock.now, poll_ms=200, time_zone="Europe/Oslo"))
    with serve(app) as url:
        page = await open_panel(browser, url, token, size=SIZES["landscape"], locale="en-GB")
        await expect(page.locator("#clock")).to_have_text("10:00")  # 2 March: UTC+1
        # 15:30 UTC is 16:30 in Oslo: today
        await expect(page.locator("#meetings li")).to_have_count(4)
