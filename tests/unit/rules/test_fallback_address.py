"""The fallback dials only a syntactically valid SIP or H.323 address (DESIGN.md §4)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from calendars.base import CalendarEvent
from otj.model import CallProtocol, MeetingRule, Profile
from otj.rules import FALLBACK, RuleSet

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def fallback(body: str = "", location: str = "") -> tuple[str | None, CallProtocol, str | None]:
    event = CalendarEvent(
        id="e", room="room@example.com", start=NOW, end=NOW, body=body, location=location
    )
    rules = [MeetingRule(name="Zoom", meeting_type="zoom")]
    meeting = RuleSet.compile(rules).process(event, Profile(name="p"), now=NOW)
    return meeting.alias, meeting.protocol, meeting.rule


@pytest.mark.parametrize(
    "body",
    [
        "Video: sip:(ask reception)",
        "Dial sip:please ask the host",  # "please" has no host part
        "sip:@vc.example.com",
        "sip:meet@vc..example.com",
        "sip:meet@-vc.example.com",
        "sip:meet@vc.example.com:99999",
        "sip:12345",  # a SIP URI needs a host
        "sips:alice@vc.example.com:50a",
        "sip:mcu",  # a bare word
        "h323:(ask)",
    ],
)
def test_text_that_is_not_an_address_is_not_dialled(body: str) -> None:
    alias, _, rule = fallback(body)
    assert (alias, rule) == (None, None)


@pytest.mark.parametrize(
    ("body", "alias", "protocol"),
    [
        ("Call sip:meet.alice@vc.example.com, thanks", "meet.alice@vc.example.com", "SIP"),
        ("sips:bridge-42@partner.example.net:5061;transport=tls",
         "bridge-42@partner.example.net:5061", "SIP"),
        ("sip:+4722123456@192.0.2.10", "+4722123456@192.0.2.10", "SIP"),
        ("sip:room@[2001:db8::1]:5061", "room@[2001:db8::1]:5061", "SIP"),
        ("sip:vc.example.com", "vc.example.com", "SIP"),
        ("h323:192.0.2.10", "192.0.2.10", "H323"),
        ("h323:4412345", "4412345", "H323"),
        ("h323:meet@mcu.example.com", "meet@mcu.example.com", "H323"),
        ("sip:a%20b@vc.example.com", "a%20b@vc.example.com", "SIP"),
    ],
)  # fmt: skip
def test_addresses_are_dialled(body: str, alias: str, protocol: str) -> None:
    assert fallback(body) == (alias, CallProtocol(protocol), FALLBACK)


def test_an_invalid_address_does_not_hide_a_valid_one_after_it() -> None:
    body = "Room system: sip:(ask reception)\nor dial sip:meet.bob@vc.example.com"
    assert fallback(body)[0] == "meet.bob@vc.example.com"
    assert fallback("sip:(ask reception)", location="sip:meet.carol@vc.example.com")[0] == (
        "meet.carol@vc.example.com"
    )
