"""The console in headless Chromium (Debian's chromium driven by Playwright), served by uvicorn
over the real store: sign in, rooms, a room's meetings and why one has no Join button, a rule
edited with its live preview before saving, the audit entry, the route tester, an alarm
acknowledged, calls; a viewer who cannot change anything. Screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect

from otj.api.app import create_app
from otj.store import Database
from tests.conftest import FakeClock
from tests.integration.console.conftest import shot
from tests.integration.console.helpers import PASSWORD, ROOM, populate
from tests.integration.delivery.served import serve

pytestmark = pytest.mark.peer

RULE = "Google Meet guest join"


@pytest.fixture
def site(db: Database, clock: FakeClock) -> Iterator[str]:
    populate(db, clock)
    with serve(create_app(db, clock=clock.now)) as url:
        yield url


@pytest.fixture
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    made = await browser.new_context(
        viewport={"width": 1280, "height": 800}, locale="en-GB", timezone_id="UTC"
    )
    try:
        yield made
    finally:
        await made.close()


async def signed_in(context: BrowserContext, url: str, name: str) -> Page:
    page = await context.new_page()
    await page.goto(f"{url}/console/rooms")
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await page.get_by_label("Name").fill(name)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name="Rooms")).to_be_visible()
    return page


async def test_an_admin_works_through_every_page(
    site: str, context: BrowserContext, db: Database
) -> None:
    page = await signed_in(context, site, "alice")
    row = page.get_by_role("row").filter(has_text=ROOM)
    await expect(row).to_contain_text("Fjord")
    await expect(row).to_contain_text("delivery: the room system did not answer")
    await shot(page, "rooms")
    await page.get_by_label("Search rooms").fill("nothing-like-it")
    await page.get_by_role("button", name="Filter").click()
    await expect(page.get_by_text("0 rooms")).to_be_visible()
    await page.get_by_label("Search rooms").fill("fjord")
    await page.get_by_role("button", name="Filter").click()
    await page.get_by_role("link", name="Fjord").click()

    # the room's meetings, then the hidden ones with why
    await expect(page.get_by_role("heading", name="Weekly sync")).to_be_visible()
    lunch = page.get_by_role("listitem").filter(has_text="Lunch with the team")
    await expect(lunch).to_contain_text("no Join button")
    await expect(lunch).to_contain_text(
        "Why no Join button: no rule found a video address in the invitation: "
        f"{RULE}: no Google Meet link or conference data"
    )
    await expect(page.get_by_role("heading", name="Private", exact=True)).to_have_count(0)
    await page.get_by_role("link", name="Also show meetings that are not listed").click()
    hidden = page.get_by_role("listitem").filter(has_text="Private")
    await expect(hidden).to_contain_text("not shown on the endpoint: declined by the room")
    await lunch.get_by_text("Rule trace").click()
    await expect(lunch.get_by_role("cell", name="no_match")).to_be_visible()
    await shot(page, "room")

    # edit a rule: the preview changes before anything is saved
    await page.get_by_role("link", name="Meeting rules").click()
    await page.get_by_role("link", name=RULE).click()
    await page.get_by_label("or pick an example").select_option("meet-invitation.eml")
    saved_alias = page.get_by_test_id("saved-rules-alias")
    edited_alias = page.get_by_test_id("as-edited-alias")
    await expect(saved_alias).to_have_text("qxr-bnwt-kzp@google.pexip.me")
    await expect(edited_alias).to_have_text("qxr-bnwt-kzp@google.pexip.me")
    await expect(page.get_by_text("routed by 'Meet'").first).to_be_visible()
    before = len(db.audit.recent())
    await page.get_by_label("Enabled", exact=True).uncheck()
    await expect(edited_alias).to_have_text("no Join button")
    await expect(saved_alias).to_have_text("qxr-bnwt-kzp@google.pexip.me")
    await expect(page.get_by_text("the edit changes the result")).to_be_visible()
    assert len(db.audit.recent()) == before  # nothing saved yet
    await shot(page, "rule-preview")
    await page.get_by_role("button", name="Save").click()
    await expect(page.get_by_role("status")).to_have_text(f"Saved {RULE}.")
    await expect(page.get_by_role("row").filter(has_text=RULE)).to_contain_text("no")

    # the audit entry
    await page.get_by_role("link", name="History").click()
    first = page.get_by_role("row").nth(1)
    await expect(first).to_contain_text("alice")
    await expect(first).to_contain_text(f"updated meeting_processing_rules '{RULE}': enabled")
    await first.get_by_role("link").click()
    await expect(page.locator("pre.diff")).to_contain_text("+  enabled: false")
    await shot(page, "history")

    # route-test an alias
    await page.get_by_role("link", name="Route tester").click()
    await page.get_by_label("Alias or SIP URI").fill("abc-defg-hij@google.pexip.me")
    await page.get_by_role("button", name="Test").click()
    await expect(page.get_by_test_id("route-rule")).to_have_text("Meet")
    await expect(page.get_by_test_id("route-destination")).to_have_text(
        "sip:abc-defg-hij@google.pexip.me"
    )
    await shot(page, "route")
    await page.get_by_label("Alias or SIP URI").fill("someone@elsewhere.example")
    await page.get_by_role("button", name="Test").click()
    await expect(page.get_by_role("heading", name="Not routed")).to_be_visible()

    # acknowledge an alarm
    await page.get_by_role("link", name="Alarms").click()
    await page.get_by_role("button", name="Acknowledge delivery on Fjord").click()
    await expect(page.get_by_test_id("acknowledged")).to_contain_text("by alice")
    assert db.alarms.active()[0].acknowledged_by == "alice"
    await shot(page, "alarms")

    # calls: live by conference, and history with causes
    await page.get_by_role("link", name="Calls").click()
    await expect(page.get_by_role("region", name="Conference xyz-defg-hij")).to_be_visible()
    await expect(page.get_by_role("row").filter(has_text="completed")).to_be_visible()
    await shot(page, "calls")

    # tablet width: the rule editor stacks its preview under the form
    await page.set_viewport_size({"width": 768, "height": 1024})
    await page.goto(f"{site}/console/config/meeting_processing_rules/{RULE}")
    await shot(page, "rule-tablet")
    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


async def test_an_administrator_sets_everything_up_in_the_console(
    site: str, context: BrowserContext, db: Database
) -> None:
    page = await signed_in(context, site, "alice")

    async def create(section: str, fields: dict[str, str], choices: dict[str, str]) -> None:
        await page.goto(f"{site}/console/config/{section}/+new")
        for label, value in fields.items():
            await page.get_by_label(label, exact=True).fill(value)
        for label, value in choices.items():
            await page.get_by_label(label, exact=True).select_option(value)
        await page.get_by_role("button", name="Save").click()
        await expect(page.get_by_role("status")).to_have_text(f"Saved {fields['Name']}.")

    await create(
        "integrations",
        {"Name": "Calendars", "Settings": "url_template: https://cal.example.com/{room}.ics"},
        {"Type": "ics"},
    )
    await create("profiles", {"Name": "Branch", "Integration": "Calendars"}, {})
    await create("endpoint_groups", {"Name": "Branch rooms", "Profile": "Branch"}, {})
    await create(
        "endpoints",
        {"Name": "Lake", "Group": "Branch rooms", "Room resource email": "lake@rooms.example.com"},
        {"Type": "PULL"},
    )
    await create(
        "call_routing_rules",
        {"Name": "Meet for Branch", "Priority": "20",
         "Match string": r"[a-z\-]{10,12}@google\.pexip\.me"},
        {},
    )  # fmt: skip
    await create(
        "meeting_processing_rules",
        {"Name": "Branch Meet", "Priority": "30", "Profile": "Branch"},
        {"Meeting type": "googlemeetsipguestjoin"},
    )
    # an invalid value gets the message of otj config apply, and nothing is saved
    await page.goto(f"{site}/console/config/profiles/+new")
    await page.get_by_label("Name", exact=True).fill("Broken")
    await page.get_by_label("Start buffer", exact=True).fill("999")
    await page.get_by_role("button", name="Save").click()
    await expect(page.get_by_role("alert")).to_contain_text("must be between 0 and 240, got 999")
    await shot(page, "invalid-profile")
    stored = db.config.snapshot(secrets="sealed")
    assert "Broken" not in [p.name for p in stored.profiles]
    assert [e.name for e in stored.endpoints if e.group == "Branch rooms"] == ["Lake"]
    assert "lake@rooms.example.com" in db.rooms.names()
    await page.goto(f"{site}/console/config")
    await shot(page, "config")


async def test_a_viewer_cannot_change_anything(
    site: str, context: BrowserContext, db: Database
) -> None:
    page = await signed_in(context, site, "victor")
    await page.get_by_role("link", name="Meeting rules").click()
    await expect(page.get_by_role("link", name="New")).to_have_count(0)
    await expect(page.get_by_role("button", name=f"Delete {RULE}")).to_have_count(0)
    await page.get_by_role("link", name=RULE).click()
    await expect(page.get_by_label("Priority")).to_be_disabled()
    await page.get_by_role("link", name="Alarms").click()
    await expect(page.get_by_role("button", name="Acknowledge delivery on Fjord")).to_have_count(0)
    await shot(page, "viewer")
    # posting anyway, with the session's own CSRF token, is refused: pages and API
    csrf = await page.locator('meta[name="csrf-token"]').get_attribute("content")
    assert csrf
    form = await page.request.post(
        f"{site}/console/config/meeting_processing_rules/{RULE}/toggle",
        form={"csrf": csrf, "etag": "*"},
    )
    assert form.status == 403
    api = await page.request.post(
        f"{site}/api/v1/alarms/{db.alarms.active()[0].id}/acknowledge",
        headers={"X-CSRF-Token": csrf},
    )
    assert api.status == 403
    assert db.alarms.active()[0].acknowledged_at is None
    assert [r.enabled for r in db.config.snapshot().meeting_processing_rules] == [True]


INVITE_ICS = """BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//otj tests//EN\r
BEGIN:VEVENT\r
UID:board-meeting@example.com\r
DTSTAMP:20260301T120000Z\r
DTSTART:20260302T110000Z\r
DTEND:20260302T120000Z\r
SUMMARY:Board meeting\r
ORGANIZER;CN=Ana:mailto:ana@example.com\r
DESCRIPTION:Join with Google Meet: https://meet.google.com/zzq-wxyv-tuk\r
END:VEVENT\r
END:VCALENDAR\r
"""


async def test_the_preview_reads_a_meeting_from_the_rooms_calendar(
    site: str, context: BrowserContext, db: Database, tmp_path: Path
) -> None:
    from otj.config import apply_text

    (tmp_path / f"{ROOM}.ics").write_text(INVITE_ICS)
    changed = apply_text(
        db,
        f"integrations:\n  - name: Files\n    type: ics\n"
        f"    path_template: '{tmp_path}/{{room}}.ics'\n"
        "profiles:\n  - name: Head office\n    start_buffer: 5\n    integration: Files\n",
        actor="setup",
    )
    assert changed.ok, changed.problems
    page = await signed_in(context, site, "alice")
    await page.goto(f"{site}/console/config/meeting_processing_rules/{RULE}")
    await page.get_by_label("or a meeting of the room").fill(ROOM)
    await page.get_by_role("button", name="Load its meetings").click()
    meeting = page.get_by_label("Meeting", exact=True)
    await expect(meeting.locator("option").nth(1)).to_contain_text("Board meeting")
    await meeting.select_option(label="2026-03-02 11:00 UTC · Board meeting")
    await expect(page.get_by_test_id("saved-rules-alias")).to_have_text(
        "zzq-wxyv-tuk@google.pexip.me"
    )
    await expect(page.get_by_text(f"{ROOM}: Board meeting")).to_be_visible()
    await shot(page, "rule-preview-room-meeting")


UNLABELLED = """() => {
  const problems = [];
  for (const el of document.querySelectorAll(
      'input:not([type=hidden]), select, textarea, button')) {
    const label = (el.labels && el.labels.length) ? el.labels[0].textContent
      : (el.getAttribute('aria-label') || (el.tagName === 'BUTTON' ? el.textContent : ''));
    if (!label.trim()) problems.push(el.outerHTML.slice(0, 100));
  }
  if (document.querySelectorAll('h1').length !== 1) problems.push('not one h1');
  if (!document.documentElement.lang) problems.push('no lang');
  return problems;
}"""


async def test_every_page_is_labelled_and_keyboard_usable(
    site: str, context: BrowserContext
) -> None:
    page = await signed_in(context, site, "alice")
    pages = [
        "/console/rooms", f"/console/rooms/{ROOM}?all=1", "/console/config",
        "/console/config/meeting_processing_rules",
        f"/console/config/meeting_processing_rules/{RULE}",
        "/console/config/call_routing_rules/Meet", "/console/config/endpoints/+new",
        "/console/config/integrations/+new", "/console/config/profiles/Head office",
        "/console/config/gateway",
        "/console/route?alias=abc-defg-hij@google.pexip.me", "/console/calls", "/console/alarms",
        "/console/history", "/console/history/1",
    ]  # fmt: skip
    for path in pages:
        await page.goto(f"{site}{path}")
        assert await page.evaluate(UNLABELLED) == [], path
    # the first Tab reaches the skip link, which moves the focus to the page's content
    await page.goto(f"{site}/console/rooms")
    await page.keyboard.press("Tab")
    await expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(page.locator("main")).to_be_focused()
    # and a rule is edited and saved with the keyboard alone
    await page.goto(f"{site}/console/config/call_routing_rules/Meet")
    await page.get_by_label("Description").focus()
    await page.keyboard.type("typed without a mouse")
    save = page.get_by_role("button", name="Save")
    for _ in range(40):  # the few fields after the description, then Save
        await page.keyboard.press("Tab")
        if await save.evaluate("el => el === document.activeElement"):
            break
    await expect(save).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("status")).to_have_text("Saved Meet.")
