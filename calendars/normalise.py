"""Small pure helpers every adapter uses to build ``CalendarEvent`` values."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

from calendars.base import MAX_BODY_CHARS, TRUNCATION_MARKER, MalformedCalendarData, ResponseStatus


def truncate_body(text: str) -> str:
    """Cut a body longer than ``MAX_BODY_CHARS`` and append ``TRUNCATION_MARKER``."""
    if len(text) <= MAX_BODY_CHARS:
        return text
    return text[:MAX_BODY_CHARS] + TRUNCATION_MARKER


def midnight(day: date, tz: tzinfo = UTC) -> datetime:
    """Start of ``day`` in ``tz``: how all-day events are given a timezone-aware start and end."""
    return datetime.combine(day, time(0, 0), tzinfo=tz)


def instance_suffix(recurrence_id: date | datetime) -> str:
    """Format an occurrence's original start like Google instance ids (``20260323T090000Z``)."""
    if isinstance(recurrence_id, datetime):
        if recurrence_id.utcoffset() is None:
            return recurrence_id.strftime("%Y%m%dT%H%M%S")
        return recurrence_id.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return recurrence_id.strftime("%Y%m%d")


_PARTSTAT: dict[str, ResponseStatus] = {
    "ACCEPTED": "accepted",
    "DECLINED": "declined",
    "TENTATIVE": "tentative",
    "NEEDS-ACTION": "needsAction",
    "DELEGATED": "needsAction",
}


def partstat_to_response(partstat: str | None) -> ResponseStatus:
    """Map an RFC 5545 §3.2.12 PARTSTAT (default NEEDS-ACTION) to a response status."""
    return _PARTSTAT.get((partstat or "NEEDS-ACTION").upper(), "needsAction")


def strip_mailto(address: str) -> str:
    """Return the e-mail of a ``mailto:`` calendar address (RFC 5545 §3.3.3), lower-cased."""
    value = address.strip()
    if value[:7].lower() == "mailto:":
        value = value[7:]
    return value.strip().lower()


# --- JSON resources (Google Calendar API, Microsoft Graph) ----------------------------------


def json_str(data: Mapping[str, Any], key: str) -> str:
    """A string member of a JSON object ("" when absent or null); anything else is malformed."""
    value = data.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise MalformedCalendarData(f"field {key!r} is not a string: {value!r}")
    return value


def json_object(value: object) -> Mapping[str, Any]:
    """A JSON object ({} when null); anything else is malformed."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise MalformedCalendarData(f"expected an object, got {value!r}")
    return value


def zone(name: str, default_tz: tzinfo) -> tzinfo:
    """An IANA or Windows zone name (``W. Europe Standard Time``) as tzinfo; unknown → default."""
    if not name:
        return default_tz
    try:
        return ZoneInfo(WINDOWS_TO_OLSON.get(name, name))
    except (ZoneInfoNotFoundError, ValueError):
        return default_tz


def timestamp(text: str) -> datetime:
    """An RFC 3339 / ISO 8601 timestamp that must carry an offset (``Z`` accepted)."""
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if parsed.utcoffset() is None:
        raise MalformedCalendarData(f"timestamp without offset: {text!r}")
    return parsed
