"""Helpers for the service tests: rooms in the Google fake, configurations, processors."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from calendars.base import CalendarEvent
from otj.config import apply_text
from otj.model import MeetingRule, Profile
from otj.store import Database
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
        "batch_uri": fake.batch_uri,
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


class _FallbackProcessor:
    """Only used while ``otj.rules`` is not installed: the DESIGN.md §4 fallback (sip: URIs)."""

    def process(self, event: CalendarEvent, profile: Profile, *, now: datetime) -> Any:
        import re

        from otj.model import CallProtocol, Meeting, Platform

        text = f"{event.body}\n{event.location}"
        for ep in event.conference.entry_points if event.conference else ():
            text += f"\n{ep.uri}"
        match = re.search(r"sip:([^\s>]+)", text)
        code = re.search(r"meet\.google\.com/([a-z]{3}-[a-z]{4}-[a-z]{3})", text)
        alias = match.group(1) if match else (f"{code.group(1)}@google.pexip.me" if code else None)
        listed = event.status != "cancelled" and event.room_response != "declined"
        return Meeting(
            room=event.room,
            event_id=event.id,
            ical_uid=event.ical_uid,
            subject=event.subject,
            organizer_name=event.organizer_name,
            organizer_email=event.organizer_email,
            start=event.start,
            end=event.end,
            join_from=event.start - timedelta(minutes=profile.start_buffer),
            join_until=event.end + timedelta(minutes=profile.end_buffer),
            alias=alias,
            protocol=CallProtocol.SIP,
            platform=Platform.GOOGLE_MEET if code else Platform.OTHER,
            rule="fallback" if alias else None,
            private=event.private,
            listed=listed,
        )


def processor_factory(rules: Sequence[MeetingRule]) -> MeetingProcessor:
    """The real rules engine when it is installed."""
    try:
        return rules_processor(rules)
    except (ModuleNotFoundError, AttributeError):
        return _FallbackProcessor()


def dedent(text: str) -> str:
    return textwrap.dedent(text)
