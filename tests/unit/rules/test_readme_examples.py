# ruff: noqa: E501, ISC004  (tables of invitation texts)
"""The examples of otj/rules/README.md's meeting-type table give the aliases it states."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.rules.helpers import process, rule

EXAMPLES: list[tuple[str, dict[str, Any], str, str]] = [
    ("googlemeetsipguestjoin", {}, "https://meet.google.com/abc-defg-hij",
     "abc-defg-hij@google.pexip.me"),
    ("hangouts", {"domain": "gmeet.example.com"}, "1234567890@gmeet.example.com",
     "1234567890@gmeet.example.com"),
    ("teams", {}, "teams@vc.example.com\nVideo Conference ID: 123 456 789 0",
     "1234567890@vc.example.com"),
    ("ciscoteamsbody", {}, "acme@m.webex.com\nVideo ID: 111 222 333", "111222333.acme@m.webex.com"),
    ("polyteamsbody", {}, "813878896@t.plcm.vc VTC Conference ID: 017988591",
     "813878896.017988591@t.plcm.vc"),
    ("teamssipguestjoin", {},
     "Join the meeting now <https://teams.microsoft.com/l/meetup-join/x>\n"
     "Meeting ID: 351 772 904 188\nPasscode: Xa9bQ2", "351772904188.Xa9bQ2@teams.pexip.me"),
    ("zoom", {}, "https://acme.zoom.us/my/anna\nMeeting ID: 806 378 7231", "8063787231@zoomcrc.com"),
    ("webex", {}, "https://acme.webex.com/acme/j.php?MTID=m1a2\n"
     "Meeting number (access code): 2551 234 5678", "25512345678@acme.webex.com"),
    ("gotomeeting", {}, "Dial in or type: 67.217.95.2 or inroomlink.goto.com\n"
     "Meeting ID: 123 456 789", "123456789@inroomlink.goto.com"),
    ("pexipinfinity", {}, "pexip://meet.bob@vc.example.com", "meet.bob@vc.example.com"),
    ("pexipservice", {}, "https://pexip.me/bob", "bob@pexip.me"),
    ("s4b", {}, "https://meet.example.com/anna/AB12CD34", "AB12CD34@example.com"),
    ("domain", {"domain": "vc.example.com"}, "Dial vmr42@vc.example.com", "vmr42@vc.example.com"),
    ("regex", {"match_string": r"room-(\d+)", "replace_string": r"\1@vc.example.com"}, "room-42",
     "42@vc.example.com"),
]  # fmt: skip


@pytest.mark.parametrize(("meeting_type", "fields", "body", "alias"), EXAMPLES)
def test_readme_example(meeting_type: str, fields: dict[str, Any], body: str, alias: str) -> None:
    assert process(rule(meeting_type, **fields), body=body).alias == alias


def test_fallback_example() -> None:
    meeting = process([], body="Dial sip:(ask reception) or sips:bridge-7@partner.example.net")
    assert (meeting.alias, meeting.rule) == ("bridge-7@partner.example.net", "fallback")
