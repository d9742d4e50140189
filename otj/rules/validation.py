"""Validation of meeting processing rules and profile templates for administrators.

Every problem is reported, not only the first: regex compile errors with their position,
template syntax errors with their line, unknown meeting types, priorities outside 1–200, fields
over their length limit, fields a type requires but the rule leaves empty.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import re2
import regex
from jinja2 import TemplateSyntaxError

from otj.model import MeetingRule, Profile
from otj.rules.meeting_types import MEETING_TYPES
from otj.rules.sandbox import compile_template

PRIORITY_MIN, PRIORITY_MAX = 1, 200
LIMITS = {
    "name": 250,
    "match_string": 250,
    "replace_string": 250,
    "transform_rule": 512,
    "custom_template": 10240,
    "company_id": 36,
    "domain": 255,
    "description": 250,
}
PROFILE_TEMPLATE_LIMIT = 512
_COMPANY_ID = re.compile(r"^[A-Za-z0-9._-]*$")
_DOMAIN = re.compile(r"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9-]+$")
_GROUP_REFERENCE = re.compile(r"\\(\d{1,2})|\\g<(\d+)>")


@dataclass(frozen=True, kw_only=True, slots=True)
class RuleProblem:
    """One problem of one rule (or profile): which field and what is wrong."""

    rule: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.rule}: {self.field}: {self.message}"


def _template_problem(rule: str, field: str, source: str) -> RuleProblem | None:
    try:
        compile_template(source)
    except TemplateSyntaxError as exc:
        return RuleProblem(
            rule=rule,
            field=field,
            message=f"template syntax error on line {exc.lineno}: {exc.message}",
        )
    return None


def _position(exc: Exception) -> str:
    position = getattr(exc, "pos", None)
    return f" at position {position}" if position is not None else ""


def _reason(exc: Exception) -> str:
    return str(getattr(exc, "msg", None) or exc)


def _regex_problems(rule: MeetingRule) -> list[RuleProblem]:
    problems: list[RuleProblem] = []
    name = rule.name or "(unnamed)"
    groups = 0
    if rule.meeting_type == "regex":
        try:
            groups = regex.compile(rule.match_string, regex.VERSION0).groups
        except regex.error as exc:
            problems.append(
                RuleProblem(
                    rule=name, field="match_string",
                    message=f"invalid regular expression{_position(exc)}: {_reason(exc)}",
                )
            )  # fmt: skip
            return problems
    else:
        options = re2.Options()
        options.log_errors = False
        try:
            groups = re2.compile(rule.match_string, options).groups
        except re2.error as exc:
            reason = (
                exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else str(exc)
            )
            position = ""
            try:
                regex.compile(rule.match_string, regex.VERSION0)
            except regex.error as python_error:
                position = _position(python_error)
            problems.append(
                RuleProblem(
                    rule=name, field="match_string",
                    message=f"invalid RE2 regular expression{position}: {reason}",
                )
            )  # fmt: skip
            return problems
    for match in _GROUP_REFERENCE.finditer(rule.replace_string):
        number = int(match.group(1) or match.group(2))
        if number > groups:
            problems.append(
                RuleProblem(
                    rule=name, field="replace_string",
                    message=f"refers to group {number} but match_string has {groups} group(s)",
                )
            )  # fmt: skip
    return problems


def validate_rule(rule: MeetingRule) -> list[RuleProblem]:
    """Every problem of one rule (empty: valid)."""
    name = rule.name or "(unnamed)"
    problems: list[RuleProblem] = []

    def problem(field: str, message: str) -> None:
        problems.append(RuleProblem(rule=name, field=field, message=message))

    if not rule.name.strip():
        problem("name", "is required")
    for field, limit in LIMITS.items():
        value = getattr(rule, field)
        if len(value) > limit:
            problem(field, f"is {len(value)} characters long; the limit is {limit}")
    if not PRIORITY_MIN <= rule.priority <= PRIORITY_MAX:
        problem("priority", f"{rule.priority} is outside {PRIORITY_MIN}–{PRIORITY_MAX}")
    meeting_type = MEETING_TYPES.get(rule.meeting_type)
    if meeting_type is None:
        known = ", ".join(sorted(MEETING_TYPES))
        problem("meeting_type", f"unknown meeting type {rule.meeting_type!r} (known: {known})")
    else:
        for required in meeting_type.requires:
            if not str(getattr(rule, required)).strip():
                problem(required, f"is required for meeting type {rule.meeting_type}")
    if rule.company_id and not _COMPANY_ID.match(rule.company_id):
        problem("company_id", "may only contain letters, digits, '.', '_' and '-'")
    if rule.domain.strip() and not _DOMAIN.match(rule.domain.strip()):
        problem("domain", f"{rule.domain!r} is not a host name")
    if rule.meeting_type in ("regex", "regex_re2") and rule.match_string:
        problems.extend(_regex_problems(rule))
    if rule.meeting_type == "custom" and rule.custom_template.strip():
        found = _template_problem(name, "custom_template", rule.custom_template)
        if found is not None:
            problems.append(found)
    if rule.transform_rule.strip():
        found = _template_problem(name, "transform_rule", rule.transform_rule)
        if found is not None:
            problems.append(found)
    if (
        not rule.default_processing_enabled
        and rule.meeting_type != "custom"
        and not rule.transform_rule.strip()
    ):
        problem("transform_rule", "is required when default_processing_enabled is false")
    return problems


def validate_rules(rules: Sequence[MeetingRule]) -> list[RuleProblem]:
    """Every problem of every rule, plus duplicate names within a profile (empty: valid)."""
    problems: list[RuleProblem] = []
    seen: set[tuple[str, str]] = set()
    for rule in rules:
        problems.extend(validate_rule(rule))
        key = (rule.profile, rule.name)
        if rule.name and key in seen:
            where = f" in profile {rule.profile!r}" if rule.profile else ""
            problems.append(
                RuleProblem(rule=rule.name, field="name", message=f"duplicate rule name{where}")
            )
        seen.add(key)
    return problems


def validate_profile(profile: Profile) -> list[RuleProblem]:
    """Problems of a profile's ``replace_subject_template`` and buffers (empty: valid)."""
    name = profile.name or "(unnamed profile)"
    problems: list[RuleProblem] = []
    source = profile.replace_subject_template
    if len(source) > PROFILE_TEMPLATE_LIMIT:
        problems.append(
            RuleProblem(
                rule=name, field="replace_subject_template",
                message=f"is {len(source)} characters long; the limit is {PROFILE_TEMPLATE_LIMIT}",
            )
        )  # fmt: skip
    if source.strip():
        found = _template_problem(name, "replace_subject_template", source)
        if found is not None:
            problems.append(found)
    problems.extend(
        RuleProblem(rule=name, field=field, message="may not be negative")
        for field in ("start_buffer", "end_buffer")
        if getattr(profile, field) < 0
    )
    return problems
