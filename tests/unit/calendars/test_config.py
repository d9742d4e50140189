"""integration_from_mapping: the ``integrations:`` entries, their secrets and clear errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from calendars.base import CalendarSource
from calendars.config import IntegrationConfigError, integration_from_mapping
from calendars.registry import create_source

ENV = {
    "OTJ_GRAPH_SECRET": "graph-secret",
    "OTJ_EWS_PASSWORD": "ews-pw",
    "OTJ_CALDAV_PASSWORD": "dav",
}
SA_KEY = json.dumps(
    {
        "type": "service_account",
        "client_email": "otj@p.iam.gserviceaccount.com",
        "private_key_id": "k1",
        "private_key": "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n",
        "token_uri": "https://oauth2.googleapis.com/token",
    }
)

# the integrations section of shared/examples/config.yaml, with the key file inlined
EXAMPLE: list[dict[str, Any]] = [
    {
        "name": "Workspace",
        "type": "google",
        "service_account_key": "file:{key}",
        "subject": "calendar-reader@example.com",
        "daily_request_quota": 900000,
    },
    {
        "name": "M365",
        "type": "graph",
        "tenant_id": "00000000-0000-0000-0000-000000000000",
        "client_id": "11111111-1111-1111-1111-111111111111",
        "client_secret": "env:OTJ_GRAPH_SECRET",
        "daily_request_quota": 1000000,
    },
    {
        "name": "On-prem Exchange",
        "type": "exchange",
        "service_endpoint": "https://mail.example.com/EWS/Exchange.asmx",
        "username": "EXAMPLE\\svc-otj",
        "password": "env:OTJ_EWS_PASSWORD",
        "auth": "ntlm",
        "access": "impersonation",
    },
    {
        "name": "Lab CalDAV",
        "type": "caldav",
        "url": "http://127.0.0.1:5232/",
        "username": "rooms",
        "password": "env:OTJ_CALDAV_PASSWORD",
        "calendar_url_template": "http://127.0.0.1:5232/rooms/{room}/",
    },
    {"name": "Demo files", "type": "ics", "path_template": "demo/calendars/{room}.ics"},
]


def example(tmp_path: Path) -> list[dict[str, Any]]:
    key = tmp_path / "sa.json"
    key.write_text(SA_KEY)
    return [
        {k: (v.replace("{key}", str(key)) if isinstance(v, str) else v) for k, v in entry.items()}
        for entry in EXAMPLE
    ]


def test_example_section_is_accepted_and_sources_build(tmp_path: Path) -> None:
    configs = [integration_from_mapping(e, environ=ENV) for e in example(tmp_path)]
    assert [c.type for c in configs] == ["google", "graph", "exchange", "caldav", "ics"]
    google, graph, exchange, caldav, _ics = configs
    assert google.daily_request_quota == 900000
    assert google.options["subject"] == "calendar-reader@example.com"
    assert google.secrets["service_account_key"].reveal() == SA_KEY
    assert graph.secrets["client_secret"].reveal() == "graph-secret"
    assert graph.secrets["client_secret"].ref == "env:OTJ_GRAPH_SECRET"
    assert "graph-secret" not in repr(graph)
    assert exchange.secrets["password"].reveal() == "ews-pw"
    assert "password" not in caldav.options
    for config in configs:
        if config.type == "google":
            continue  # the fake key above is not a parseable RSA key
        source = create_source(config, timeout=5)
        assert isinstance(source, CalendarSource)
        source.close()


def test_google_source_refuses_an_unparseable_key(tmp_path: Path) -> None:
    from calendars.base import CalendarAuthError

    config = integration_from_mapping(example(tmp_path)[0], environ=ENV)
    with pytest.raises(CalendarAuthError, match="service account key"):
        create_source(config)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"type": "google"}, "'name' is required"),
        ({"name": "x", "type": "outlook"}, "'type' must be one of google, graph"),
        ({"name": "x", "type": "google"}, "google integrations need 'service_account_key'"),
        ({"name": "x", "type": "google", "service_account_key": "not json"}, "JSON key"),
        (
            {"name": "x", "type": "graph", "tenant_id": "t", "client_id": "c"},
            "graph integrations need 'client_secret'",
        ),
        (
            {
                "name": "x",
                "type": "graph",
                "tenant_id": "t",
                "client_id": "c",
                "client_secret": "env:NOPE",
            },
            "'client_secret': environment variable NOPE is not set",
        ),
        (
            {
                "name": "x",
                "type": "graph",
                "tenant_id": "t",
                "client_id": "c",
                "client_secret": "s",
                "body_content_type": "rtf",
            },
            "'body_content_type' must be one of html, text",
        ),
        (
            {"name": "x", "type": "exchange", "service_endpoint": "https://e/EWS/Exchange.asmx"},
            "needs 'username' and 'password'",
        ),
        (
            {"name": "x", "type": "exchange", "service_endpoint": "https://e", "auth": "oauth"},
            "exchange auth 'oauth' needs client_id, tenant_id, client_secret",
        ),
        (
            {
                "name": "x",
                "type": "exchange",
                "service_endpoint": "https://e",
                "username": "u",
                "password": "p",
                "max_wait": "30",
            },
            "'max_wait' must be an integer",
        ),
        ({"name": "x", "type": "caldav"}, "caldav integrations need 'calendar_url_template'"),
        (
            {"name": "x", "type": "caldav", "calendar_url_template": "http://h/rooms/"},
            "must contain {room}",
        ),
        ({"name": "x", "type": "ics"}, "exactly one of 'path_template' or 'url_template'"),
        (
            {
                "name": "x",
                "type": "ics",
                "path_template": "a/{room}",
                "url_template": "http://{room}",
            },
            "exactly one of",
        ),
        (
            {"name": "x", "type": "ics", "path_template": "a/{room}", "timezone": "Mars/Olympus"},
            "unknown timezone",
        ),
        (
            {"name": "x", "type": "ics", "path_template": "a/{room}", "daily_request_quota": 0},
            "'daily_request_quota' must be a positive integer",
        ),
        (
            {"name": "x", "type": "ics", "path_template": "a/{room}", "pasword": "typo"},
            "unknown key(s) pasword",
        ),
        (
            {"name": "x", "type": "ics", "path_template": "a/{room}", "full_resync_after": 5},
            "'full_resync_after' must be ≥ 60",
        ),
    ],
)
def test_invalid_entries(entry: dict[str, Any], message: str) -> None:
    with pytest.raises(IntegrationConfigError) as caught:
        integration_from_mapping(entry, environ=ENV)
    assert message in str(caught.value)


def test_secret_file_reference(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("s3cret\n")
    config = integration_from_mapping(
        {
            "name": "x",
            "type": "caldav",
            "calendar_url_template": "http://h/{room}/",
            "password": f"file:{secret}",
        }
    )
    assert config.secrets["password"].reveal() == "s3cret"
    assert config.secrets["password"].ref == f"file:{secret}"


def test_not_a_mapping() -> None:
    with pytest.raises(IntegrationConfigError, match="must be a mapping"):
        integration_from_mapping(["name", "x"])  # type: ignore[arg-type]


def test_options_keep_types() -> None:
    config = integration_from_mapping(
        {
            "name": "x",
            "type": "ics",
            "url_template": "https://h/{room}.ics",
            "verify_tls": False,
            "timezone": "Europe/Oslo",
            "full_resync_after": 3600,
        }
    )
    assert config.options == {
        "url_template": "https://h/{room}.ics",
        "verify_tls": False,
        "timezone": "Europe/Oslo",
        "full_resync_after": 3600,
    }
