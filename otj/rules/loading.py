"""Parsed YAML/JSON mappings → ``MeetingRule``, ``Profile`` and ``CalendarEvent`` values.

Used by the golden-case runner and by ``otj rules validate|test``. The input is already parsed
(``yaml.safe_load``); this module only checks types and fills defaults, raising ``ValueError``
with the offending key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar, get_args

from calendars.base import (
    Attendee,
    CalendarEvent,
    Conference,
    EntryPoint,
    EntryPointType,
    EventStatus,
    ResponseStatus,
)
from otj.model import MeetingRule, Profile, ReplaceSubject

DEFAULT_START = datetime(2025, 3, 3, 10, 0, tzinfo=UTC)
"""Start of case events without one (a Monday); they last an hour."""

_T = TypeVar("_T")


class DocumentError(ValueError):
    """The document does not have the expected shape (the message names the key)."""


def _expect(value: Any, kind: type[_T], where: str) -> _T:
    if kind is int and isinstance(value, bool):
        raise DocumentError(f"{where}: expected an integer, got {value!r}")
    if not isinstance(value, kind):
        raise DocumentError(
            f"{where}: expected {kind.__name__}, got {type(value).__name__} {value!r}"
        )
    return value


def _text(value: Any, where: str) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):  # YAML 1.1 reads an unquoted yes/no/on/off as a boolean
        return "true" if value else "false"
    if isinstance(value, (int, float, date)):
        return str(value)
    return _expect(value, str, where)


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    return _expect(value, Mapping, where)  # type: ignore[type-abstract]


_RULE_FIELDS = {f.name: f for f in fields(MeetingRule)}
_PROFILE_FIELDS = {f.name: f for f in fields(Profile)}


def rule_from_mapping(data: Any, where: str = "rule") -> MeetingRule:
    """One ``meeting_processing_rules`` entry → ``MeetingRule`` (unknown keys are an error)."""
    data = _mapping(data, where)
    unknown = sorted(set(data) - set(_RULE_FIELDS))
    if unknown:
        raise DocumentError(f"{where}: unknown key(s) {', '.join(unknown)}")
    values: dict[str, Any] = {}
    for key, value in data.items():
        here = f"{where}.{key}"
        default = _RULE_FIELDS[key].default
        if isinstance(default, bool):
            values[key] = _expect(value, bool, here)
        elif isinstance(default, int):
            values[key] = _expect(value, int, here)
        else:
            values[key] = _text(value, here)
    if not values.get("name"):
        raise DocumentError(f"{where}: name is required")
    if "meeting_type" not in values:
        raise DocumentError(f"{where}: meeting_type is required")
    return MeetingRule(**values)


def profile_from_mapping(data: Any, name: str = "default", where: str = "profile") -> Profile:
    """One profile's settings → ``Profile`` (unknown keys are an error)."""
    data = _mapping(data or {}, where)
    unknown = sorted(set(data) - set(_PROFILE_FIELDS))
    if unknown:
        raise DocumentError(f"{where}: unknown key(s) {', '.join(unknown)}")
    values: dict[str, Any] = {"name": name}
    for key, value in data.items():
        if key.startswith("endpoint_"):
            continue  # endpoint API credential defaults: delivery settings, not for the rules
        here = f"{where}.{key}"
        default = _PROFILE_FIELDS[key].default
        if key == "replace_subject_type":
            text = _text(value, here).upper()
            if text not in ReplaceSubject.__members__:
                raise DocumentError(f"{here}: expected ALL, NEVER or PRIVATE, got {value!r}")
            values[key] = ReplaceSubject(text)
        elif isinstance(default, bool):
            values[key] = _expect(value, bool, here)
        elif isinstance(default, int):
            values[key] = _expect(value, int, here)
        else:
            values[key] = _text(value, here)
    return Profile(**values)


def _datetime(value: Any, where: str) -> datetime:
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime(value.year, value.month, value.day, tzinfo=UTC)
    else:
        try:
            parsed = datetime.fromisoformat(_text(value, where))
        except ValueError as exc:
            raise DocumentError(f"{where}: not an ISO 8601 date-time: {value!r}") from exc
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _choice(value: Any, allowed: tuple[str, ...], where: str) -> Any:
    text = _text(value, where)
    if text not in allowed:
        raise DocumentError(f"{where}: expected one of {', '.join(allowed)}, got {value!r}")
    return text


def _conference(data: Any, where: str) -> Conference | None:
    if data is None:
        return None
    data = _mapping(data, where)
    points = []
    for index, raw_point in enumerate(data.get("entry_points") or ()):
        here = f"{where}.entry_points[{index}]"
        point = _mapping(raw_point, here)
        points.append(
            EntryPoint(
                type=_choice(point.get("type", "video"), get_args(EntryPointType), f"{here}.type"),
                uri=_text(point.get("uri"), f"{here}.uri"),
                pin=_text(point.get("pin"), f"{here}.pin"),
                passcode=_text(point.get("passcode"), f"{here}.passcode"),
            )
        )
    return Conference(
        solution=_text(data.get("solution"), f"{where}.solution"),
        id=_text(data.get("id"), f"{where}.id"),
        entry_points=tuple(points),
    )


_EVENT_KEYS = {
    "id", "ical_uid", "room", "subject", "location", "body", "body_html", "organizer",
    "organizer_name", "organizer_email", "start", "end", "all_day", "private", "status",
    "room_response", "attendees", "conference", "recurring_id", "updated",
}  # fmt: skip


def event_from_mapping(
    data: Any, where: str = "event", *, default_id: str = "event"
) -> CalendarEvent:
    """A case-format (or CalendarEvent-shaped JSON) event → ``CalendarEvent``.

    ``organizer: {name, email}`` or ``organizer_name``/``organizer_email``; ``start``/``end`` ISO
    8601 (default: ``DEFAULT_START`` for one hour); every other field as in ``CalendarEvent``.
    """
    data = _mapping(data or {}, where)
    unknown = sorted(set(data) - _EVENT_KEYS)
    if unknown:
        raise DocumentError(f"{where}: unknown key(s) {', '.join(unknown)}")
    organizer = _mapping(data.get("organizer") or {}, f"{where}.organizer")
    start = _datetime(data["start"], f"{where}.start") if "start" in data else DEFAULT_START
    end = _datetime(data["end"], f"{where}.end") if "end" in data else start + timedelta(hours=1)
    attendees = []
    for index, raw_item in enumerate(data.get("attendees") or ()):
        here = f"{where}.attendees[{index}]"
        item = _mapping(raw_item, here)
        attendees.append(
            Attendee(
                email=_text(item.get("email"), f"{here}.email"),
                name=_text(item.get("name"), f"{here}.name"),
                response=_choice(
                    item.get("response", "needsAction"),
                    get_args(ResponseStatus),
                    f"{here}.response",
                ),
                resource=_expect(item.get("resource", False), bool, f"{here}.resource"),
            )
        )
    return CalendarEvent(
        id=_text(data.get("id"), f"{where}.id") or default_id,
        ical_uid=_text(data.get("ical_uid"), f"{where}.ical_uid"),
        room=_text(data.get("room"), f"{where}.room") or "room@example.com",
        subject=_text(data.get("subject"), f"{where}.subject"),
        location=_text(data.get("location"), f"{where}.location"),
        body=_text(data.get("body"), f"{where}.body"),
        body_html=_text(data.get("body_html"), f"{where}.body_html"),
        organizer_name=_text(
            data.get("organizer_name", organizer.get("name")), f"{where}.organizer.name"
        ),
        organizer_email=_text(
            data.get("organizer_email", organizer.get("email")), f"{where}.organizer.email"
        ),
        start=start,
        end=end,
        all_day=_expect(data.get("all_day", False), bool, f"{where}.all_day"),
        private=_expect(data.get("private", False), bool, f"{where}.private"),
        status=_choice(data.get("status", "confirmed"), get_args(EventStatus), f"{where}.status"),
        room_response=_choice(
            data.get("room_response", "accepted"),
            get_args(ResponseStatus),
            f"{where}.room_response",
        ),
        attendees=tuple(attendees),
        conference=_conference(data.get("conference"), f"{where}.conference"),
        recurring_id=_text(data.get("recurring_id"), f"{where}.recurring_id"),
        updated=_datetime(data["updated"], f"{where}.updated") if data.get("updated") else None,
    )


def rules_from_document(document: Any, *, profile: str | None = None) -> list[MeetingRule]:
    """Rules from a config file (``meeting_processing_rules``), a case file or a plain list.

    For a config file, ``profile`` keeps the rules of that profile (and those without one). For
    a case file with ``rulesets:``, ``profile`` names the ruleset (required when several).
    """
    if isinstance(document, list):
        return [rule_from_mapping(item, f"rules[{i}]") for i, item in enumerate(document)]
    document = _mapping(document, "file")
    if "meeting_processing_rules" in document:
        rules = [
            rule_from_mapping(item, f"meeting_processing_rules[{i}]")
            for i, item in enumerate(document.get("meeting_processing_rules") or ())
        ]
        if profile is not None:
            rules = [rule for rule in rules if rule.profile in ("", profile)]
        return rules
    if "rulesets" in document:
        rulesets = _mapping(document.get("rulesets") or {}, "rulesets")
        if profile is None:
            if len(rulesets) != 1:
                names = ", ".join(rulesets)
                raise DocumentError(
                    f"the file has several rulesets ({names}): choose one with --profile"
                )
            profile = next(iter(rulesets))
        if profile not in rulesets:
            raise DocumentError(f"no ruleset named {profile!r} (have: {', '.join(rulesets)})")
        items = rulesets[profile] or []
        return [rule_from_mapping(item, f"rulesets.{profile}[{i}]") for i, item in enumerate(items)]
    if "rules" in document:
        items = document.get("rules") or []
        return [rule_from_mapping(item, f"rules[{i}]") for i, item in enumerate(items)]
    raise DocumentError("no meeting_processing_rules, rulesets or rules in the file")


def profile_from_document(document: Any, name: str | None) -> Profile:
    """The profile ``name`` of a config file (list) or case file (mapping); defaults otherwise."""
    if name is None or not isinstance(document, Mapping):
        return Profile(name=name or "default")
    profiles = document.get("profiles")
    if isinstance(profiles, list):
        for index, raw_item in enumerate(profiles):
            item = _mapping(raw_item, f"profiles[{index}]")
            if item.get("name") == name:
                settings = {k: v for k, v in item.items() if k != "name"}
                return profile_from_mapping(settings, name, f"profiles[{index}]")
        if "meeting_processing_rules" in document:
            raise DocumentError(f"no profile named {name!r} in the file")
    elif isinstance(profiles, Mapping) and name in profiles:
        return profile_from_mapping(profiles[name], name, f"profiles.{name}")
    return Profile(name=name)
