# ruff: noqa: E501  (tables)
"""Privacy/listing table (DESIGN.md §4.4), join window, and validation messages."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from otj.model import MeetingRule, Profile, ReplaceSubject
from otj.rules import validate_profile, validate_rules
from tests.unit.rules.helpers import START, process, rule

MEET = "https://meet.google.com/abc-defg-hij"
ALIAS = "abc-defg-hij@google.pexip.me"

PRIVACY = [
    # (profile settings, event fields, alias, subject, listed, reason)
    ({}, {"subject": "Secret", "private": True}, ALIAS, "Ana Silva", True, ""),
    ({}, {"subject": "Open"}, ALIAS, "Open", True, ""),
    ({"replace_subject_type": ReplaceSubject.NEVER}, {"subject": "Secret", "private": True},
     ALIAS, "Secret", True, ""),
    ({"replace_subject_type": ReplaceSubject.ALL}, {"subject": "Open"}, ALIAS, "Ana Silva", True, ""),
    ({"replace_subject_type": ReplaceSubject.ALL,
      "replace_subject_template": "{{ calendar_event.organizer_name|upper }} ({{ calendar_event.room }})"},
     {"subject": "Open"}, ALIAS, "ANA SILVA (fjord@resource.example.com)", True, ""),
    ({"replace_subject_type": ReplaceSubject.ALL, "replace_subject_template": "{{ broken"},
     {"subject": "Open"}, ALIAS, "Ana Silva", True, ""),
    ({}, {"subject": "  "}, ALIAS, "Ana Silva", True, ""),
    ({"replace_empty_subject": False}, {"subject": ""}, ALIAS, "", True, ""),
    ({"enable_private_meetings": False}, {"private": True}, ALIAS, "Ana Silva", False,
     "private meetings are disabled"),
    ({"process_alias_private_meetings": False}, {"private": True}, None, "Ana Silva", True, ""),
    ({"process_alias_private_meetings": False}, {"private": False}, ALIAS, "Meeting", True, ""),
    ({"enable_non_video_meetings": False}, {"body": "coffee"}, None, "Meeting", False,
     "non-video meetings are disabled"),
    ({}, {"body": "coffee"}, None, "Meeting", True, ""),
    ({}, {"status": "cancelled"}, ALIAS, "Meeting", False, "cancelled"),
    ({}, {"room_response": "declined"}, ALIAS, "Meeting", False, "declined by the room"),
]  # fmt: skip


@pytest.mark.parametrize(("settings", "fields", "alias", "subject", "listed", "reason"), PRIVACY)
def test_privacy_and_listing(
    settings: dict[str, Any],
    fields: dict[str, Any],
    alias: str | None,
    subject: str,
    listed: bool,
    reason: str,
) -> None:
    values: dict[str, Any] = {"body": MEET, **fields}
    meeting = process(rule("googlemeetsipguestjoin"), Profile(name="p", **settings), **values)
    assert (meeting.alias, meeting.subject, meeting.listed, meeting.unlisted_reason) == (
        alias,
        subject,
        listed,
        reason,
    )


def test_hidden_private_alias_is_explained_in_trace() -> None:
    profile = Profile(name="p", process_alias_private_meetings=False)
    meeting = process(rule("googlemeetsipguestjoin"), profile, body=MEET, private=True)
    assert meeting.rule is None
    assert meeting.trace[-1].rule == "privacy"
    assert "hidden" in meeting.trace[-1].detail


def test_join_window_uses_buffers() -> None:
    meeting = process([], Profile(name="p", start_buffer=10, end_buffer=3))
    assert meeting.join_from == START - timedelta(minutes=10)
    assert meeting.join_until == START + timedelta(hours=1, minutes=3)


def _messages(rules: list[MeetingRule]) -> list[str]:
    return [f"{p.rule}|{p.field}|{p.message}" for p in validate_rules(rules)]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"meeting_type": "regex", "match_string": "ab(c"},
         "r|match_string|invalid regular expression at position 4: missing )"),
        ({"meeting_type": "regex_re2", "match_string": "a(?=b)"},
         "r|match_string|invalid RE2 regular expression: invalid perl operator: (?="),
        ({"meeting_type": "regex_re2", "match_string": "a(b"},
         "r|match_string|invalid RE2 regular expression at position 3: missing ): a(b"),
        ({"meeting_type": "regex", "match_string": "(a)", "replace_string": r"\2"},
         "r|replace_string|refers to group 2 but match_string has 1 group(s)"),
        ({"meeting_type": "custom", "custom_template": "a\n{% if x %}\n{{ y }"},
         "r|custom_template|template syntax error on line 3: unexpected '}'"),
        ({"meeting_type": "zoom", "transform_rule": "{{ x", "default_processing_enabled": False},
         "r|transform_rule|template syntax error on line 1: unexpected end of template, expected 'end of print statement'."),
        ({"meeting_type": "zoomy"}, "r|meeting_type|unknown meeting type 'zoomy'"),
        ({"meeting_type": "zoom", "priority": 0}, "r|priority|0 is outside 1–200"),
        ({"meeting_type": "zoom", "priority": 201}, "r|priority|201 is outside 1–200"),
        ({"meeting_type": "regex", "match_string": "x" * 251}, "r|match_string|is 251 characters long; the limit is 250"),
        ({"meeting_type": "regex", "match_string": "x", "replace_string": "y" * 251},
         "r|replace_string|is 251 characters long; the limit is 250"),
        ({"meeting_type": "zoom", "transform_rule": "x" * 513}, "r|transform_rule|is 513 characters long; the limit is 512"),
        ({"meeting_type": "custom", "custom_template": "x" * 10241},
         "r|custom_template|is 10241 characters long; the limit is 10240"),
        ({"meeting_type": "googlemeetsipguestjoin", "company_id": "c" * 37},
         "r|company_id|is 37 characters long; the limit is 36"),
        ({"meeting_type": "googlemeetsipguestjoin", "company_id": "a b"},
         "r|company_id|may only contain letters, digits, '.', '_' and '-'"),
        ({"meeting_type": "regex"}, "r|match_string|is required for meeting type regex"),
        ({"meeting_type": "domain"}, "r|domain|is required for meeting type domain"),
        ({"meeting_type": "custom"}, "r|custom_template|is required for meeting type custom"),
        ({"meeting_type": "zoom", "default_processing_enabled": False},
         "r|transform_rule|is required when default_processing_enabled is false"),
    ],
)  # fmt: skip
def test_validation_messages(fields: dict[str, Any], expected: str) -> None:
    messages = _messages([MeetingRule(name="r", **fields)])
    assert any(m.startswith(expected) for m in messages), messages


def test_valid_rules_and_duplicates() -> None:
    good = [
        rule("googlemeetsipguestjoin", name="a", priority=50),
        rule("regex", name="b", match_string=r"(\d+)", replace_string=r"\1@x.example.com"),
        rule("custom", name="c", custom_template="{{ calendar_event.subject }}"),
    ]
    assert validate_rules(good) == []
    assert _messages([*good, rule("zoom", name="a")]) == ["a|name|duplicate rule name"]


def test_every_problem_is_reported() -> None:
    bad = MeetingRule(
        name="r", meeting_type="regex", priority=999, match_string="(", company_id="x" * 40
    )
    assert len(validate_rules([bad])) == 3


def test_validate_profile() -> None:
    assert (
        validate_profile(Profile(name="p", replace_subject_template="{{ calendar_event.subject }}"))
        == []
    )
    problems = validate_profile(
        Profile(name="p", replace_subject_template="{% if %}", start_buffer=-1)
    )
    assert [p.field for p in problems] == ["replace_subject_template", "start_buffer"]
    assert "line 1" in problems[0].message


def test_profile_loader_ignores_endpoint_credential_defaults() -> None:
    """A config file's profile may carry endpoint API defaults; the rules never hold them."""
    from otj.rules.loading import profile_from_mapping

    profile = profile_from_mapping(
        {
            "replace_subject_type": "ALL",
            "endpoint_api_username": "otj",
            "endpoint_api_password": "env:OTJ_CISCO_PASSWORD",
        },
        name="Head office",
    )
    assert profile.replace_subject_type == "ALL"
    assert profile.endpoint_api_password is None
    assert profile.endpoint_api_username == ""
