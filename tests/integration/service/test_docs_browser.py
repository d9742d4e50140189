"""``/docs`` renders in headless Chromium with every request outside this server refused."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Route, async_playwright, expect

from otj.api.app import create_app
from otj.store import Database
from tests.conftest import FakeClock
from tests.integration.delivery.served import serve

pytestmark = pytest.mark.peer

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


async def test_swagger_ui_renders_without_internet(db: Database, clock: FakeClock) -> None:
    assert Path(CHROMIUM).exists(), "install Debian's chromium (the CI script does)"
    outside: list[str] = []
    with serve(create_app(db, clock=clock.now)) as url:
        here = urlsplit(url).netloc

        async def only_here(route: Route) -> None:
            if urlsplit(route.request.url).netloc == here:
                await route.continue_()
            else:
                outside.append(route.request.url)
                await route.abort()

        async with async_playwright() as pw:
            chromium = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            try:
                page = await chromium.new_page()
                await page.route("**/*", only_here)
                await page.goto(f"{url}/docs")
                operation = page.locator(".opblock-summary-path", has_text="/oauth/token")
                await expect(operation).to_be_visible(timeout=15_000)
                await expect(page.locator(".opblock").first).to_be_visible()
            finally:
                await chromium.close()
    assert outside == []
