"""``CalendarEvent`` → JSON-ready dict (ISO 8601 datetimes with offset), for the CLI and APIs."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from calendars.base import CalendarEvent


def event_to_json(event: CalendarEvent) -> dict[str, Any]:
    """Every ``CalendarEvent`` field; datetimes as ISO 8601 with offset, tuples as lists."""
    return {key: _plain(value) for key, value in asdict(event).items()}


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
