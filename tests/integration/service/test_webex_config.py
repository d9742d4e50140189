"""``otj config apply`` of WEBEX endpoints and a profile's Webex authorisation: stored sealed,
exported as keep markers, and a warning naming what an undeliverable endpoint lacks."""

from __future__ import annotations

import textwrap

import sqlalchemy as sa
import yaml

from otj.config import apply_text
from otj.config.export import to_yaml
from otj.store import Database

CONFIG = textwrap.dedent(
    """\
    profiles:
      - name: Cloud
        webrtc_join: true
        endpoint_webex_client_id: C-otj
        endpoint_webex_client_secret: webex-client-secret
        endpoint_webex_refresh_token: env:OTJ_WEBEX_REFRESH
    endpoint_groups:
      - {name: Cloud rooms, profile: Cloud}
    endpoints:
      - name: Fjord
        group: Cloud rooms
        room_resource_email: fjord@rooms.example.com
        type: WEBEX
        webex_device_id: Y2lzY29zcGFyazovL3VzL0RFVklDRS9mam9yZA
      - name: Berg
        group: Cloud rooms
        room_resource_email: berg@rooms.example.com
        type: webex
    """
)


def test_webex_settings_apply_sealed_and_round_trip(db: Database) -> None:
    result = apply_text(db, CONFIG, environ={"OTJ_WEBEX_REFRESH": "refresh-1"})
    assert result.ok, [str(p) for p in result.problems]
    warnings = [str(p) for p in result.problems if p.warning]
    # endpoints[1] is Berg (no device id); Fjord (endpoints[0]) is complete
    assert any("endpoints[1]" in w and "no webex_device_id" in w for w in warnings), warnings
    assert not any("endpoints[0]" in w for w in warnings), warnings

    fjord = db.config.endpoint("Fjord")
    assert fjord is not None
    assert (fjord.type, fjord.webex_device_id) == (
        "WEBEX",
        "Y2lzY29zcGFyazovL3VzL0RFVklDRS9mam9yZA",
    )
    [profile] = db.config.snapshot(secrets="resolve").profiles
    assert profile.webrtc_join
    assert profile.endpoint_webex_client_secret is not None
    assert profile.endpoint_webex_client_secret.reveal() == "webex-client-secret"
    with db.engine.connect() as conn:
        stored = conn.execute(
            sa.text("SELECT endpoint_webex_client_secret FROM profiles WHERE name = 'Cloud'")
        ).scalar_one()
    assert "webex-client-secret" not in (stored if isinstance(stored, str) else repr(stored))

    exported = to_yaml(db.config.snapshot(secrets="sealed"))
    assert "webex-client-secret" not in exported
    doc = yaml.safe_load(exported)
    [cloud] = doc["profiles"]
    assert cloud["endpoint_webex_client_secret"] == "stored:inline"
    assert cloud["endpoint_webex_refresh_token"] == "env:OTJ_WEBEX_REFRESH"
    again = apply_text(db, exported, environ={"OTJ_WEBEX_REFRESH": "refresh-1"})
    assert again.report is not None
    assert again.report.changes == (), again.report.changes


def test_missing_webex_authorisation_is_a_warning_naming_the_fields(db: Database) -> None:
    text = CONFIG.replace("    endpoint_webex_client_secret: webex-client-secret\n", "")
    assert text != CONFIG
    result = apply_text(db, text, environ={"OTJ_WEBEX_REFRESH": "refresh-1"})
    assert result.ok
    warnings = [str(p) for p in result.problems if p.warning]
    assert any(
        "endpoints[0]" in w and "set endpoint_webex_client_secret on profile 'Cloud'" in w
        for w in warnings
    ), warnings
