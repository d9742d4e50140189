"""The demo's room panels: linked from the home page, paired by the link, and a Join click
shows up on the room's simulated codec page (headless Chromium against the real app)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from otj.api.app import create_app
from otj.commands.serve import install_demo
from otj.demo import DOMAIN
from otj.demo import codecs as demo_codecs
from otj.demo import panels as demo_panels
from otj.store import Database
from otj.worker.cycle import run_cycle
from otj.worker.setup import make_poller
from tests.conftest import FakeClock
from tests.integration.delivery.served import serve
from tests.integration.panel.conftest import shot

pytestmark = pytest.mark.peer

ROOM = f"oslo-fjord@{DOMAIN}"
SUBJECT = "Partner planning (Google Meet)"


def test_pairing_again_replaces_the_demo_panel_tokens(db: Database, tmp_path: Path) -> None:
    install_demo(db, tmp_path)
    now = datetime.now(UTC)
    first = dict(demo_panels.pair(db, now=now))
    assert set(first) == {e.room_resource_email for e in db.config.endpoints() if e.type == "PULL"}
    assert first[ROOM].startswith(f"/panel/{ROOM}?token=otj_")
    second = dict(demo_panels.pair(db, now=now))
    old, new = (links[ROOM].split("token=", 1)[1] for links in (first, second))
    assert db.tokens.verify(old, now=now) is None, "a restart revokes the previous links"
    assert db.tokens.verify(new, now=now) is not None
    names = [t.name for t in db.tokens.list() if t.name.startswith(demo_panels.TOKEN_NAME_PREFIX)]
    assert len(names) == len(second)


async def test_a_demo_panels_join_reaches_the_rooms_simulated_codec(
    db: Database, browser: Browser, tmp_path: Path
) -> None:
    install_demo(db, tmp_path)
    try:
        attached = demo_codecs.attach(db)
        panels = demo_panels.pair(db, now=datetime.now(UTC))
        poll = await asyncio.to_thread(
            run_cycle, make_poller(db, owner="test"), deliverer=None, force=True
        )
        assert poll.ok
        today = datetime.now(UTC)
        listed = db.meetings.list(
            ROOM, start=today - timedelta(days=1), end=today + timedelta(days=1), with_trace=False
        )
        [meeting] = [m for m in listed if m.subject == SUBJECT]
        clock = FakeClock(meeting.start + timedelta(minutes=10))  # inside its join window
        codecs = [(room, url) for room, url, _ in attached]
        home = {"demo": True, "codecs": codecs, "panels": panels}
        app = create_app(
            db,
            clock=clock.now,
            routers=("otj.api.panel", "otj.api.home"),
            router_options={"otj.api.home": home},
        )
        with serve(app) as url:
            page = await (
                await browser.new_context(viewport={"width": 1280, "height": 800})
            ).new_page()
            await page.goto(f"{url}/")
            heading = page.locator("h3", has_text=ROOM)
            await heading.get_by_role("link", name="room panel").click()
            await expect(page.locator("#room-name")).to_have_text("Oslo Fjord")
            assert page.url == f"{url}/panel/{ROOM}", "paired: the token left the address"
            await expect(page.locator("#hero-title")).to_have_text(SUBJECT)
            await expect(page.locator("#join")).to_be_enabled()
            await page.locator("#join").click()
            await expect(page.locator("#status")).to_have_text(
                "Dialling abc-defg-hij@google.pexip.me"
            )
            await shot(page, "demo-dialling")

            await page.goto(dict(codecs)[ROOM] + "/")
            dials = page.locator("#dials tr")
            await expect(dials).to_have_count(2)  # the header and one request
            await expect(dials.nth(1)).to_contain_text("abc-defg-hij@google.pexip.me")
            await expect(dials.nth(1)).to_contain_text("Sip")
            await shot(page, "demo-codec-dials")
            # another room's codec received nothing
            other = next(u for room, u in codecs if room != ROOM)
            await page.goto(other + "/")
            await expect(page.locator("body")).to_contain_text("Dial requests (0)")
    finally:
        demo_codecs.stop()
