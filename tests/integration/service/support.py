"""Helpers for the service tests: rooms in the Google fake, configurations, processors."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from otj.config import apply_text
from otj.model import MeetingRule
from otj.store import Database, SecretBox
from otj.store.migrate import upgrade
from otj.worker.plans import MeetingProcessor, rules_processor
from tests.fakes.google_calendar import GoogleCalendarFake, rfc3339


def room_name(i: int) -> str:
    return f"room{i:04d}@resource.example.com"


def google_integration(
    fake: GoogleCalendarFake, *, quota: int = 1_000_000, num_retries: int = 0
) -> dict[str, Any]:
    return {
        "name": "Workspace",
        "type": "google",
        "service_account_key": json.dumps(fake.service_account_info()),
        "api_endpoint": fake.api_endpoint,
        "token_uri": fake.token_uri,
        "num_retries": num_retries,
        "daily_request_quota": quota,
    }


def config_text(
    integration: dict[str, Any],
    rooms: Sequence[str],
    *,
    poll_interval: int = 60,
    rules: Sequence[dict[str, Any]] | None = None,
    days: int = 7,
) -> str:
    import yaml

    doc = {
        "integrations": [integration],
        "profiles": [
            {
                "name": "Rooms",
                "integration": integration["name"],
                "poll_interval": poll_interval,
                "display_upcoming_meetings": days,
            }
        ],
        "endpoint_groups": [{"name": "All", "profile": "Rooms"}],
        "endpoints": [
            {
                "name": room.split("@")[0],
                "group": "All",
                "room_resource_email": room,
                "type": "PULL",
            }
            for room in rooms
        ],
        "meeting_processing_rules": list(
            rules
            if rules is not None
            else [{"name": "Meet", "meeting_type": "googlemeetsipguestjoin", "priority": 10}]
        ),
    }
    return yaml.safe_dump(doc, sort_keys=False)


def apply(db: Database, text: str, *, prune: bool = False) -> None:
    result = apply_text(db, text, environ={}, prune=prune)
    assert result.ok, [str(p) for p in result.problems]


def meet_event(
    start: datetime,
    *,
    code: str = "abc-defg-hij",
    subject: str = "Design review",
    minutes: int = 60,
    event_id: str | None = None,
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "summary": subject,
        "start": {"dateTime": rfc3339(start)},
        "end": {"dateTime": rfc3339(start + timedelta(minutes=minutes))},
        "organizer": {"email": "host@other.example", "displayName": "Host"},
        "conferenceData": {
            "conferenceId": code,
            "conferenceSolution": {"key": {"type": "hangoutsMeet"}, "name": "Google Meet"},
            "entryPoints": [{"entryPointType": "video", "uri": f"https://meet.google.com/{code}"}],
        },
        "description": f"Join with Google Meet: https://meet.google.com/{code}",
    }
    if event_id:
        resource["id"] = event_id
    return resource


def processor_factory(rules: Sequence[MeetingRule]) -> MeetingProcessor:
    """The real rules engine."""
    return rules_processor(rules)


def dedent(text: str) -> str:
    return textwrap.dedent(text)


@contextmanager
def database_at(database_url: str, key_dir: Path, revision: str) -> Iterator[Database]:
    """A database whose schema is at ``revision`` (not upgraded further), closed afterwards."""
    database = Database(
        database_url,
        box=SecretBox(key_file=key_dir / "secret.key", environ={}),
        application_name="otj-test",
    )
    upgrade(database.engine, revision)
    try:
        yield database
    finally:
        database.close()
