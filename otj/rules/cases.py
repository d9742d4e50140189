"""Golden cases (shared/testdata/README.md format): load a case file, run it, compare.

A case names a ruleset (``ruleset:``) or lists its rules inline (``rules:``), optionally a
profile (a name from ``profiles:``, or the settings inline), an event and ``expect``. Keys under
``expect`` that a case leaves out are not checked; any ``Meeting`` field may be expected.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any

from calendars.base import CalendarEvent
from calendars.text import clean_event
from otj.model import Meeting, MeetingRule, Profile
from otj.rules.engine import RuleSet
from otj.rules.loading import (
    DEFAULT_START,
    DocumentError,
    event_from_mapping,
    profile_from_mapping,
    rule_from_mapping,
)

CASE_NOW = DEFAULT_START - timedelta(days=1)
"""The processing time of every case (a day before its event)."""

_MEETING_FIELDS = {f.name for f in fields(Meeting)} - {"trace"}


@dataclass(frozen=True, kw_only=True, slots=True)
class CaseResult:
    """The outcome of one case: passed, or the mismatches / the error that failed it."""

    id: str
    passed: bool
    message: str = ""
    meeting: Meeting | None = None


@dataclass(kw_only=True, slots=True)
class CaseFile:
    """A parsed case file: compiled rulesets (shared between cases), profiles, raw cases."""

    rulesets: dict[str, RuleSet]
    ruleset_errors: dict[str, str]
    profiles: dict[str, Profile]
    profile_errors: dict[str, str]
    cases: list[Mapping[str, Any]]


def load_case_file(document: Any) -> CaseFile:
    """Parse a case document; raises ``ValueError`` when its top level is unusable."""
    if not isinstance(document, Mapping):
        raise DocumentError("a case file is a mapping with rulesets, profiles and cases")
    unknown = sorted(set(document) - {"rulesets", "profiles", "cases"})
    if unknown:
        raise DocumentError(f"unknown top-level key(s): {', '.join(unknown)}")
    cases = document.get("cases") or []
    if not isinstance(cases, list):
        raise DocumentError("cases: expected a list")
    rulesets: dict[str, RuleSet] = {}
    ruleset_errors: dict[str, str] = {}
    raw_rulesets = document.get("rulesets") or {}
    if not isinstance(raw_rulesets, Mapping):
        raise DocumentError("rulesets: expected a mapping of name → list of rules")
    for name, items in raw_rulesets.items():
        try:
            rulesets[str(name)] = RuleSet.compile(_rules(items, f"rulesets.{name}"))
        except ValueError as exc:
            ruleset_errors[str(name)] = str(exc)
    profiles: dict[str, Profile] = {}
    profile_errors: dict[str, str] = {}
    raw_profiles = document.get("profiles") or {}
    if not isinstance(raw_profiles, Mapping):
        raise DocumentError("profiles: expected a mapping of name → settings")
    for name, settings in raw_profiles.items():
        try:
            profiles[str(name)] = profile_from_mapping(settings, str(name), f"profiles.{name}")
        except ValueError as exc:
            profile_errors[str(name)] = str(exc)
    return CaseFile(
        rulesets=rulesets,
        ruleset_errors=ruleset_errors,
        profiles=profiles,
        profile_errors=profile_errors,
        cases=cases,
    )


def _rules(items: Any, where: str) -> list[MeetingRule]:
    if items is None:
        return []
    if not isinstance(items, list):
        raise DocumentError(f"{where}: expected a list of rules")
    return [rule_from_mapping(item, f"{where}[{index}]") for index, item in enumerate(items)]


def case_id(case: Any, index: int) -> str:
    """The case's ``id``, or ``#<n>`` when it has none."""
    if isinstance(case, Mapping) and case.get("id") is not None:
        return str(case["id"])
    return f"#{index + 1}"


def _format(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, datetime):
        return value.isoformat()
    return repr(str(value)) if not isinstance(value, bool) else str(value).lower()


def _same(expected: Any, actual: Any) -> bool:
    if expected is None or actual is None:
        return expected is None and actual is None
    if isinstance(expected, bool) or isinstance(actual, bool):
        return expected is actual
    if isinstance(actual, datetime):
        try:
            return actual == datetime.fromisoformat(str(expected))
        except ValueError:
            return False
    return str(expected) == str(actual)


def _prepare(
    case_file: CaseFile, case: Any, identifier: str
) -> tuple[RuleSet, Profile, CalendarEvent, Mapping[str, Any], datetime]:
    if not isinstance(case, Mapping):
        raise DocumentError("a case is a mapping")
    unknown = sorted(set(case) - {"id", "ruleset", "rules", "profile", "event", "expect", "now"})
    if unknown:
        raise DocumentError(f"unknown key(s) {', '.join(unknown)}")
    ruleset = _case_ruleset(case_file, case)
    profile = _case_profile(case_file, case)
    # as a calendar source would pass it on: the rules see clean text in the service too
    event = clean_event(event_from_mapping(case.get("event"), "event", default_id=identifier))
    expect = case.get("expect") or {}
    if not isinstance(expect, Mapping):
        raise DocumentError("expect: expected a mapping")
    unknown_expect = sorted(set(expect) - _MEETING_FIELDS)
    if unknown_expect:
        raise DocumentError(f"expect: unknown key(s) {', '.join(unknown_expect)}")
    now = CASE_NOW
    if case.get("now") is not None:
        try:
            now = datetime.fromisoformat(str(case["now"]))
        except ValueError as exc:
            raise DocumentError(f"now: not an ISO 8601 date-time: {case['now']!r}") from exc
    return ruleset, profile, event, expect, now


def run_case(case_file: CaseFile, case: Any, index: int) -> CaseResult:
    """Run one case and compare every expected key."""
    identifier = case_id(case, index)
    try:
        ruleset, profile, event, expect, now = _prepare(case_file, case, identifier)
    except ValueError as exc:
        return CaseResult(id=identifier, passed=False, message=f"error: {exc}")
    meeting = ruleset.process(event, profile, now=now)
    wrong = [key for key in expect if not _same(expect[key], getattr(meeting, key))]
    if not wrong:
        return CaseResult(id=identifier, passed=True, meeting=meeting)
    expected = ", ".join(f"{key}={_format(expect[key])}" for key in wrong)
    actual = ", ".join(f"{key}={_format(getattr(meeting, key))}" for key in wrong)
    context = "" if "rule" in wrong else f" (rule={_format(meeting.rule)})"
    return CaseResult(
        id=identifier,
        passed=False,
        message=f"expected {expected} got {actual}{context}",
        meeting=meeting,
    )


def _case_ruleset(case_file: CaseFile, case: Mapping[str, Any]) -> RuleSet:
    if "rules" in case:
        return RuleSet.compile(_rules(case.get("rules"), "rules"))
    name = case.get("ruleset")
    if name is None:
        return RuleSet.compile([])
    name = str(name)
    if name in case_file.ruleset_errors:
        raise DocumentError(f"ruleset {name!r}: {case_file.ruleset_errors[name]}")
    if name not in case_file.rulesets:
        raise DocumentError(f"unknown ruleset {name!r}")
    return case_file.rulesets[name]


def _case_profile(case_file: CaseFile, case: Mapping[str, Any]) -> Profile:
    profile = case.get("profile")
    if profile is None:
        return Profile(name="default")
    if isinstance(profile, Mapping):
        return profile_from_mapping(profile, "inline", "profile")
    name = str(profile)
    if name in case_file.profile_errors:
        raise DocumentError(f"profile {name!r}: {case_file.profile_errors[name]}")
    if name not in case_file.profiles:
        raise DocumentError(f"unknown profile {name!r}")
    return case_file.profiles[name]


def run_case_file(document: Any) -> list[CaseResult]:
    """Run every case of a parsed case document, in order."""
    case_file = load_case_file(document)
    return [run_case(case_file, case, index) for index, case in enumerate(case_file.cases)]
