"""OpenID Connect sign-in against a small local provider (``tests/fakes/oidc_provider.py``):
in Chromium end to end, and the refusals over HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from playwright.async_api import Browser, expect

from otj.api.app import create_app
from otj.console.oidc import OidcSettings
from otj.store import Database
from tests.conftest import FakeClock
from tests.fakes.oidc_provider import OidcProvider
from tests.integration.console.conftest import shot
from tests.integration.console.helpers import populate
from tests.integration.delivery.served import serve


@pytest.fixture
def provider() -> OidcProvider:
    return OidcProvider(
        claims={
            "ana": {"groups": ["staff", "otj-admins"]},
            "vera": {"groups": ["otj-viewers"]},
            "mallory": {"groups": ["staff"]},
            "alice": {"groups": ["otj-admins"]},
        }
    )


@pytest.fixture
def site(db: Database, clock: FakeClock, provider: OidcProvider) -> Iterator[str]:
    populate(db, clock)
    with serve(provider.app()) as issuer:
        settings = OidcSettings(
            issuer=issuer, client_id=provider.client_id, client_secret=provider.client_secret
        )
        options = {"otj.api.console_pages": {"oidc": settings},
                   "otj.api.console_oidc": {"oidc": settings}}  # fmt: skip
        with serve(create_app(db, clock=clock.now, router_options=options)) as url:
            yield url


def sign_in_over_http(url: str) -> httpx.Response:
    """Follow the flow as a browser would (cookies kept; the provider signs in at once)."""
    with httpx.Client(base_url=url, follow_redirects=True, timeout=10) as client:
        return client.get("/console/sign-in/oidc?next=/console/alarms")


@pytest.mark.peer
async def test_an_admin_signs_in_through_the_provider(
    site: str, browser: Browser, db: Database
) -> None:
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = await context.new_page()
        await page.goto(f"{site}/console/history")
        await page.get_by_role("link", name="Sign in with your organisation's account").click()
        await expect(page.get_by_role("heading", name="Configuration history")).to_be_visible()
        await expect(page.get_by_text("ana (admin)")).to_be_visible()
        await shot(page, "oidc-signed-in")
    finally:
        await context.close()
    admin = db.admins.get("ana")
    assert admin is not None
    assert admin.role == "admin"
    assert db.admins.sign_in("ana", "", now=admin.created_at).admin is None  # no password


def test_roles_come_from_the_provider_and_strangers_are_refused(
    site: str, provider: OidcProvider, db: Database
) -> None:
    provider.user = "vera"
    answer = sign_in_over_http(site)
    assert answer.status_code == 200
    assert "Signed in as vera (viewer)" in answer.text
    provider.user = "mallory"
    refused = sign_in_over_http(site)
    assert refused.status_code == 401
    assert "neither &#39;otj-admins&#39; nor &#39;otj-viewers&#39;" in refused.text
    assert db.admins.get("mallory") is None


def test_a_local_account_is_never_taken_over(site: str, provider: OidcProvider) -> None:
    provider.user = "alice"  # a local (password) account of populate()
    answer = sign_in_over_http(site)
    assert answer.status_code == 403
    assert "a local account is named &#39;alice&#39;" in answer.text


def test_a_token_signed_with_an_unpublished_key_is_refused(
    site: str, provider: OidcProvider, db: Database
) -> None:
    provider.rogue = True
    answer = sign_in_over_http(site)
    assert answer.status_code == 401
    assert "ID token is not valid" in answer.text
    assert db.admins.get("ana") is None


def test_a_callback_without_its_browser_state_is_refused(site: str, provider: OidcProvider) -> None:
    with httpx.Client(base_url=site, timeout=10) as client:
        start = client.get("/console/sign-in/oidc")
        assert start.status_code == 303
        authorize = httpx.get(start.headers["location"], timeout=10)
        callback = authorize.headers["location"]
    # another browser (no state cookie) replays the provider's answer
    answer = httpx.get(callback, timeout=10)
    assert answer.status_code == 401
    assert "another browser" in answer.text
    assert provider.token_requests == 0  # refused before the code was exchanged


def test_without_a_provider_there_is_no_oidc_sign_in(db: Database, clock: FakeClock) -> None:
    from fastapi.testclient import TestClient

    with TestClient(create_app(db, clock=clock.now)) as client:
        assert "organisation" not in client.get("/console/sign-in").text
        assert client.get("/console/sign-in/oidc").status_code == 404
