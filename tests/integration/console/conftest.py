"""Headless Chromium for the console tests (the room panel tests' fixture) and screenshots."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Page

from tests.integration.panel.conftest import ARTIFACTS, browser

__all__ = ["browser", "shot"]


async def shot(page: Page, name: str) -> Path:
    """A full-page screenshot in ``test-artifacts/`` (git-ignored) for people to look at."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"console-{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path
