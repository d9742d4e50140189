"""The gateway's identity in the store (SQLite and PostgreSQL): the key sealed at rest, one
identity at a time, and the expiry alarms in the status API as time passes."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import text

from guestjoin.identity import ALARM_EXPIRED, ALARM_EXPIRING, accept_upload, new_request
from guestjoin.storage import StoreConfig
from otj.api.app import create_app
from otj.store import Database
from tests.conftest import FakeClock
from tests.integration.gateway.pki import ScratchCA


def _install(db: Database, ca: ScratchCA, clock: FakeClock, *, days: float) -> bytes:
    request = new_request("gw.example.com", key_type="ec-p256")
    db.identity.save_request("gw.example.com", request, now=clock.now())
    signed = ca.sign(request.request_pem, not_before=clock.now() - timedelta(hours=1), days=days)
    keys = db.identity.keys()
    accepted = accept_upload(signed, pending=keys.pending, active=keys.active, now=clock.now())
    db.identity.install(accepted, now=clock.now())
    return signed


def test_the_key_is_sealed_and_a_new_request_keeps_the_installed_identity(
    db: Database, clock: FakeClock
) -> None:
    ca = ScratchCA()
    assert db.identity.active() is None
    first = _install(db, ca, clock, days=90)
    installed = db.identity.active()
    assert installed is not None
    assert installed.chain_pem == first
    with db.reading() as session:
        stored = [str(v) for v in session.execute(text("SELECT private_key FROM gateway_identity"))]
    assert stored
    assert all("PRIVATE KEY" not in v and "enc" in v for v in stored)

    # a new request is pending; the gateway keeps presenting the installed identity
    renewal = new_request("gw.example.com", key_type="ec-p256")
    db.identity.save_request("gw.example.com", renewal, now=clock.now())
    pending = db.identity.pending()
    assert pending is not None
    assert pending.request_pem == renewal.request_pem
    assert StoreConfig(db).load().identity == installed

    # its certificate replaces the installed one and uses the request up
    signed = ca.sign(renewal.request_pem, not_before=clock.now(), days=90)
    keys = db.identity.keys()
    accepted = accept_upload(signed, pending=keys.pending, active=keys.active, now=clock.now())
    db.identity.install(accepted, now=clock.now())
    replaced = db.identity.active()
    assert replaced is not None
    assert replaced.chain_pem == signed
    assert replaced.key == renewal.key
    assert db.identity.pending() is None


def test_expiry_alarms_in_the_status_api(db: Database, clock: FakeClock) -> None:
    ca = ScratchCA()
    _install(db, ca, clock, days=45)
    client = TestClient(create_app(db, clock=clock.now))
    token, _ = db.tokens.create("admin", "ops", now=clock.now())
    admin = {"Authorization": f"Bearer {token}"}

    def kinds() -> list[str]:
        alarms = client.get("/api/v1/status/alarms", headers=admin).json()
        return [a["kind"] for a in alarms if a["subject"] == "gateway"]

    assert kinds() == []
    clock.advance(timedelta(days=15).total_seconds())  # 30 days (less an hour) left
    assert kinds() == [ALARM_EXPIRING]
    clock.advance(timedelta(days=31).total_seconds())
    assert kinds() == [ALARM_EXPIRED]
    status = db.identity.status(now=clock.now())
    assert status is not None
    assert status.days_left < 0
    # a new certificate clears the alarm
    _install(db, ca, clock, days=90)
    assert kinds() == []
    assert {a.kind for a in db.alarms.recent() if a.subject == "gateway"} == {
        ALARM_EXPIRING,
        ALARM_EXPIRED,
    }


def test_the_gateway_config_reload_raises_the_alarm_at_most_once_a_minute(
    db: Database, clock: FakeClock
) -> None:
    ca = ScratchCA()
    _install(db, ca, clock, days=10)
    provider = StoreConfig(db, clock=clock.now)
    assert provider.load().identity is not None
    assert [a.kind for a in db.alarms.active(subject="gateway")] == [ALARM_EXPIRING]
    clock.advance(timedelta(days=10).total_seconds())
    provider.load()
    assert [a.kind for a in db.alarms.active(subject="gateway")] == [ALARM_EXPIRED]
    _install(db, ca, clock, days=90)
    clock.advance(30)
    provider.load()  # checked 30 s ago: not yet again
    assert [a.kind for a in db.alarms.active(subject="gateway")] == [ALARM_EXPIRED]
    clock.advance(30)
    provider.load()
    assert db.alarms.active(subject="gateway") == []
