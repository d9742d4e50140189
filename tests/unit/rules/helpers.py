"""Small builders shared by the rule-engine tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from calendars.base import CalendarEvent, Conference, EntryPoint
from otj.model import Meeting, MeetingRule, Profile
from otj.rules import RuleSet

NOW = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)
START = datetime(2025, 3, 4, 9, 0, tzinfo=UTC)


def event(**fields: Any) -> CalendarEvent:
    """A CalendarEvent with harmless defaults."""
    values: dict[str, Any] = {
        "id": "evt-1",
        "room": "fjord@resource.example.com",
        "start": START,
        "end": START + timedelta(hours=1),
        "subject": "Meeting",
        "organizer_name": "Ana Silva",
        "organizer_email": "ana@example.com",
    }
    values.update(fields)
    return CalendarEvent(**values)


def conference(solution: str, conference_id: str = "", *points: tuple[str, str]) -> Conference:
    return Conference(
        solution=solution,
        id=conference_id,
        entry_points=tuple(EntryPoint(type=kind, uri=uri) for kind, uri in points),  # type: ignore[arg-type]
    )


def rule(meeting_type: str, name: str = "", **fields: Any) -> MeetingRule:
    return MeetingRule(name=name or meeting_type, meeting_type=meeting_type, **fields)


def process(
    rules: list[MeetingRule] | MeetingRule, profile: Profile | None = None, **fields: Any
) -> Meeting:
    ruleset = RuleSet.compile(rules if isinstance(rules, list) else [rules])
    return ruleset.process(event(**fields), profile or Profile(name="test"), now=NOW)
