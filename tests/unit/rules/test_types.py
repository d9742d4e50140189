# ruff: noqa: E501  (tables of real-looking invitation texts)
"""Every built-in meeting type with invitation texts as Outlook, Google and the providers write them."""

from __future__ import annotations

from typing import Any

import pytest

from otj.model import CallProtocol, Platform
from tests.unit.rules.helpers import conference, process, rule

TEAMS_LINK = (
    "https://teams.microsoft.com/l/meetup-join/19%3ameeting_NjA1%40thread.v2/0"
    "?context=%7b%22Tid%22%3a%2272f9%22%7d"
)

OUTLOOK_TEAMS_PEXIP_HTML = f"""<html><head><style>p.MsoNormal{{margin:0}}</style></head><body>
<div class="WordSection1"><p class="MsoNormal"><span style="color:gray">{"_" * 60}</span></p>
<p class="MsoNormal"><b><span style="font-size:18pt">Microsoft Teams meeting</span></b></p>
<p class="MsoNormal"><a href="{TEAMS_LINK}"><span>Click here to join the meeting</span></a></p>
<p class="MsoNormal"><span>Meeting ID: </span><span>351 772 904 188</span></p>
<p class="MsoNormal">Passcode: Xa9bQ2</p>
<p class="MsoNormal">Join with a video conferencing device</p>
<p class="MsoNormal"><a href="mailto:teams@vc.example.com">teams@vc.example.com</a></p>
<p class="MsoNormal">Video Conference ID: 123 456 789 0</p>
<p class="MsoNormal"><a href="https://pexip.me/teams/vc.example.com/1234567890">Alternate VTC instructions</a></p>
</div></body></html>"""

GOOGLE_MEET_HTML = """<span itemscope itemtype="http://schema.org/InformAction"><div><table cellspacing="0"
cellpadding="8" border="0"><tr><td><div><i>Joining info</i></div></td><td><div><a
href="https://meet.google.com/mno-pqrs-tuv?hs=224" style="color:#1a73e8">Join with Google Meet</a>
</div><div>meet.google.com/mno-pqrs-tuv</div></td></tr></table></div></span>"""

ZOOM_ICS_TEXT = """Carol Jensen is inviting you to a scheduled Zoom meeting.

Join Zoom Meeting
https://us02web.zoom.us/j/9396880476?pwd=a2gyYkVpRjhBZEthQUQzcEF2QjRXUT09

Meeting ID: 939 688 0476
Passcode: openbmc
One tap mobile
+16699009128,,9396880476#,,,,,,0#,,8592515# US (San Jose)
Meeting ID: 939 688 0476
Passcode: 8592515
"""

WEBEX_TEXT = """JOIN WEBEX MEETING
https://acme.webex.com/acme/j.php?MTID=m2e079f6dbd44d3c5cc4dbfc23072f457
Meeting number (access code): 2424 250 5248
JOIN FROM A VIDEO SYSTEM OR APPLICATION
Dial sip:24242505248@acme.webex.com
Join using Microsoft Lync or Microsoft Skype for Business
Dial sip:24242505248.acme@lync.webex.com
"""

CASES: list[tuple[str, dict[str, Any], dict[str, Any], str | None, Platform]] = [
    # (meeting_type, rule fields, event fields, expected alias, platform)
    ("googlemeetsipguestjoin", {}, {"body_html": GOOGLE_MEET_HTML},
     "mno-pqrs-tuv@google.pexip.me", Platform.GOOGLE_MEET),
    ("googlemeetsipguestjoin", {}, {"body": "meet.google.com/abc-defg-hij (no scheme)"},
     "abc-defg-hij@google.pexip.me", Platform.GOOGLE_MEET),
    ("googlemeetsipguestjoin", {}, {"body": "Dial in: https://tel.meet/ioi-aqwe-wms?pin=5485116016368"},
     "ioi-aqwe-wms@google.pexip.me", Platform.GOOGLE_MEET),
    ("googlemeetsipguestjoin", {"company_id": "acme-1"}, {"location": "https://meet.google.com/abc-defg-hij"},
     "abc-defg-hij.acme-1@google.pexip.me", Platform.GOOGLE_MEET),
    ("googlemeetsipguestjoin", {}, {"body": "https://meet.google.com/lookup/abcdefghij and meet.google.com/abc-defg-hijk"},
     None, Platform.OTHER),
    ("googlemeetsipguestjoin", {}, {"conference": conference("hangoutsMeet", "klm-nopq-rst")},
     "klm-nopq-rst@google.pexip.me", Platform.GOOGLE_MEET),
    ("hangouts", {"domain": "gmeet.example.com"},
     {"body": "Join from a video conferencing system: sip:4417093355120@gmeet.example.com"},
     "4417093355120@gmeet.example.com", Platform.GOOGLE_MEET),
    ("hangouts", {"domain": "gmeet.example.com"}, {"body": "123456789@gmeet.example.com (9 digits)"},
     None, Platform.OTHER),
    ("hangouts", {"domain": "gmeet.example.com"},
     {"conference": conference("hangoutsMeet", "fgh-ijkl-mno", ("sip", "sip:5510293847561@other.example.com"))},
     None, Platform.OTHER),
    ("teams", {"domain": "vc.example.com"}, {"body_html": OUTLOOK_TEAMS_PEXIP_HTML},
     "1234567890@vc.example.com", Platform.MICROSOFT_TEAMS),
    ("teams", {}, {"body": "Tenant key: teams@meet.example.org\nVideo ID: 122 326 964 4\nMore info"},
     "1223269644@meet.example.org", Platform.MICROSOFT_TEAMS),
    ("pexipinfinityteamsbody", {}, {"body": "mfa.teams@video.example.fi\nVideo Conference ID: 126 085 103 8"},
     "mfa.1260851038@video.example.fi", Platform.MICROSOFT_TEAMS),
    ("pexipserviceteamsbody", {},
     {"body": "Alternate VTC <https://meet.video.example.fi/teams/?conf=1260851038&ivr=mfa.teams&d=video.example.fi&prefix=mfa.>"},
     "mfa.1260851038@video.example.fi", Platform.MICROSOFT_TEAMS),
    ("teams", {}, {"body": "Conference ID: 636 049 49#\nteams@vc.example.com\nno video ID here"},
     None, Platform.OTHER),
    ("teams", {}, {"body": "acme@m.webex.com\nVideo Conference ID: 112 233 445 5"}, None, Platform.OTHER),
    ("ciscoteamsbody", {}, {"body": "Tenant key: cdw@m.webex.com\nVideo ID: 119 856 328 6"},
     "1198563286.cdw@m.webex.com", Platform.MICROSOFT_TEAMS),
    ("ciscoteamsbody", {}, {"body": "Personal room https://ibm.webex.com/meet/jdoe\nVideo ID: 1198563286"},
     None, Platform.OTHER),
    ("polyteamsbody", {},
     {"body": "Conference ID: 636 049 49#\n813878896@t.plcm.vc<mailto:813878896@t.plcm.vc> VTC Conference ID: 017988591"},
     "813878896.017988591@t.plcm.vc", Platform.MICROSOFT_TEAMS),
    ("polyteamsbody", {}, {"body": "Alternate VTC <https://dialin.plcm.vc/teams/?key=813878896&conf=017988591>"},
     "813878896.017988591@t.plcm.vc", Platform.MICROSOFT_TEAMS),
    ("teamssipguestjoin", {}, {"body_html": OUTLOOK_TEAMS_PEXIP_HTML},
     "351772904188.Xa9bQ2@teams.pexip.me", Platform.MICROSOFT_TEAMS),
    ("teamssipguestjoin", {"company_id": "c0ffee"},
     {"body": f"Join the meeting now <{TEAMS_LINK}>\nMeeting ID: 351 772 904 188\nPasscode: Xa9bQ2"},
     "351772904188.Xa9bQ2.c0ffee@teams.pexip.me", Platform.MICROSOFT_TEAMS),
    ("teamssipguestjoin", {}, {"body": "Meeting ID: 351 772 904 188\nPasscode: Xa9bQ2 (no Teams link)"},
     None, Platform.OTHER),
    ("zoom", {}, {"body": ZOOM_ICS_TEXT}, "9396880476@zoomcrc.com", Platform.ZOOM),
    ("zoom", {"include_pin": True}, {"body": ZOOM_ICS_TEXT}, "9396880476.8592515@zoomcrc.com", Platform.ZOOM),
    ("zoom", {"include_pin": True}, {"body": "https://acme.zoom.us/j/9876543210\nPasscode: letters"},
     "9876543210@zoomcrc.com", Platform.ZOOM),
    ("zoom", {}, {"body": "Room system: US: 92403591689@global.zoomcrc.com"},
     "92403591689@global.zoomcrc.com", Platform.ZOOM),
    ("zoom", {}, {"body": "Webinar https://zoom.us/w/92287324493?tk=abc"}, "92287324493@zoomcrc.com", Platform.ZOOM),
    ("zoom", {}, {"body": "https://acme.zoomgov.com/j/1612345678"}, "1612345678@zoomcrc.com", Platform.ZOOM),
    ("zoom", {}, {"body": "https://us02web.zoom.us/u/kJ2VhJY0E (find your local number)"}, None, Platform.OTHER),
    ("webex", {}, {"body": WEBEX_TEXT}, "24242505248@acme.webex.com", Platform.WEBEX),
    ("webex", {}, {"body": "Join via Web:https://ibm.webex.com/meet/joseph.reynolds1."},
     "joseph.reynolds1@ibm.webex.com", Platform.WEBEX),
    ("webex", {}, {"body": "Meeting Link:\nhttps://ibm.webex.com/ibm/j.php?MTID=m4979"}, None, Platform.OTHER),
    ("webex", {}, {"body": "acme@m.webex.com Video Conference ID: 1122334455"}, None, Platform.OTHER),
    ("gotomeeting", {}, {"body": "Dial in or type: 67.217.95.2 or inroomlink.goto.com\nMeeting ID: 123 456 789"},
     "123456789@inroomlink.goto.com", Platform.OTHER),
    ("gotomeeting", {}, {"body": "https://www.gotomeet.me/acme\nAccess Code: 691-818-141"}, None, Platform.OTHER),
    ("pexipinfinity", {}, {"location": "pexip://meet.bob@vc.example.com."}, "meet.bob@vc.example.com", Platform.OTHER),
    ("pexipservice", {}, {"body": "Join https://pexip.me/meet.alice@example.com now"}, "meet.alice@example.com", Platform.OTHER),
    ("pexipservice", {"domain": "pexip.example.com"}, {"body": "VMR: 1234@pexip.example.com"}, "1234@pexip.example.com", Platform.OTHER),
    ("s4b", {}, {"body": "Join Skype Meeting <https://meet.contoso.com/jdoe/ABC12345>"}, "ABC12345@contoso.com", Platform.OTHER),
    ("polys4bbody", {"domain": "sfb.example.com"}, {"body": "https://meet.contoso.com/jdoe/ABC12345"}, "ABC12345@sfb.example.com", Platform.OTHER),
    ("s4b", {}, {"body": "https://meet.google.com/lookup/abcdefgh"}, None, Platform.OTHER),
    ("domain", {"domain": "vc.example.com"}, {"body": "Mail carol@example.com; room sip:meet.carol@VC.example.com"},
     "meet.carol@VC.example.com", Platform.OTHER),
    ("domain", {"domain": "vc.example.com"}, {"body": "dave@vc.example.com.evil.net"}, None, Platform.OTHER),
    ("regex", {"match_string": r"https://meet\.example\.com/([a-z0-9.]+)", "replace_string": r"\1@vc.example.com"},
     {"body": "Join at https://meet.example.com/meet.dave today"}, "meet.dave@vc.example.com", Platform.OTHER),
    ("regex", {"match_string": r"\bvmr-(?P<id>\d+)"}, {"location": "VMR vmr-42"}, "vmr-42", Platform.OTHER),
    ("regex_re2", {"match_string": r"Room code:\s*(\d{4,8})", "replace_string": r"room\1@vc.example.com"},
     {"location": "Room code: 4455"}, "room4455@vc.example.com", Platform.OTHER),
    ("custom", {"custom_template": "{{ 'h323:' ~ calendar_event.location }}"}, {"location": "192.0.2.10"},
     "192.0.2.10", Platform.OTHER),
    ("custom", {"custom_template": "sip:{{ calendar_event.subject|lower }}@zoomcrc.com"}, {"subject": "12345678901"},
     "12345678901@zoomcrc.com", Platform.ZOOM),
]  # fmt: skip


@pytest.mark.parametrize(
    ("meeting_type", "fields", "event_fields", "alias", "platform"),
    CASES,
    ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)],
)
def test_meeting_type(
    meeting_type: str,
    fields: dict[str, Any],
    event_fields: dict[str, Any],
    alias: str | None,
    platform: Platform,
) -> None:
    meeting = process(rule(meeting_type, **fields), **event_fields)
    assert meeting.alias == alias, meeting.trace
    if alias is not None:
        assert meeting.rule == meeting_type
        assert meeting.platform == platform
        assert meeting.trace[-1].outcome == "matched"
    else:
        assert meeting.trace[0].outcome == "no_match"
        assert meeting.trace[0].detail


def test_custom_h323_scheme_sets_protocol() -> None:
    meeting = process(
        rule("custom", custom_template="h323:{{ calendar_event.location }}"), location="192.0.2.10"
    )
    assert (meeting.alias, meeting.protocol) == ("192.0.2.10", CallProtocol.H323)


def test_safe_links_are_decoded_before_search() -> None:
    body = (
        "Join <https://eur01.safelinks.protection.outlook.com/?url=https%3A%2F%2Fus02web.zoom.us"
        "%2Fj%2F85012345678%3Fpwd%3Dabc&data=05%7C02&sdata=x&reserved=0>"
    )
    assert process(rule("zoom"), body=body).alias == "85012345678@zoomcrc.com"


def test_search_order_conference_then_location_then_body() -> None:
    meeting = process(
        rule("googlemeetsipguestjoin"),
        conference=conference("hangoutsMeet", "aaa-bbbb-ccc"),
        location="https://meet.google.com/ddd-eeee-fff",
        body="https://meet.google.com/ggg-hhhh-iii",
    )
    assert meeting.alias == "aaa-bbbb-ccc@google.pexip.me"
    meeting = process(
        rule("zoom"),
        location="https://acme.zoom.us/j/1111111111",
        body="https://acme.zoom.us/j/2222222222",
    )
    assert meeting.alias == "1111111111@zoomcrc.com"
    assert "in location" in meeting.trace[0].detail


def test_priority_ties_are_broken_by_name_and_first_match_wins() -> None:
    rules = [
        rule(
            "regex", name="b-second", priority=10, match_string="x", replace_string="b@example.com"
        ),
        rule(
            "regex", name="a-first", priority=10, match_string="x", replace_string="a@example.com"
        ),
        rule(
            "regex",
            name="early",
            priority=5,
            enabled=False,
            match_string="x",
            replace_string="e@x.com",
        ),
        rule("regex", name="late", priority=200, match_string="x", replace_string="z@example.com"),
    ]
    meeting = process(rules, body="x")
    assert meeting.alias == "a@example.com"
    assert [(s.rule, s.outcome) for s in meeting.trace] == [
        ("early", "disabled"),
        ("a-first", "matched"),
    ]


@pytest.mark.parametrize(
    ("meeting_type", "fields", "body", "transform", "expected"),
    [
        ("googlemeetsipguestjoin", {}, "https://meet.google.com/abc-defg-hij",
         "{{ meeting_code|replace('-', '') }}@gw.example.com", "abcdefghij@gw.example.com"),
        ("zoom", {}, ZOOM_ICS_TEXT, "{{ meeting_id }}.{{ passcode }}@zoom.example.com",
         "9396880476.8592515@zoom.example.com"),
        ("teams", {"domain": "vc.example.com"}, "teams@x.example.com\nVideo ID: 123 456 789 0",
         "{{ conference_id }}@{{ host }}", "1234567890@x.example.com"),
        ("webex", {}, WEBEX_TEXT, "{{ meeting_number }}@{{ site }}.webex.com;transport=tls",
         "24242505248@acme.webex.com;transport=tls"),
        ("regex", {"match_string": r"Bridge (\d+)"}, "Bridge 42", "{{ groups[0] }}@bridge.example.com",
         "42@bridge.example.com"),
        ("gotomeeting", {}, "inroomlink.goto.com\nMeeting ID: 123 456 789", "{{ default_alias|upper }}",
         "123456789@INROOMLINK.GOTO.COM"),
    ],
)  # fmt: skip
def test_transform_rule_uses_type_variables(
    meeting_type: str, fields: dict[str, Any], body: str, transform: str, expected: str
) -> None:
    meeting = process(
        rule(meeting_type, default_processing_enabled=False, transform_rule=transform, **fields),
        body=body,
    )
    assert meeting.alias == expected
    assert "(transform_rule)" in meeting.trace[0].detail


def test_transform_rule_is_ignored_while_default_processing_is_enabled() -> None:
    meeting = process(
        rule("zoom", transform_rule="{{ meeting_id }}@other.example.com"),
        body="https://acme.zoom.us/j/9876543210",
    )
    assert meeting.alias == "9876543210@zoomcrc.com"


def test_empty_transform_output_is_no_match() -> None:
    meeting = process(
        rule("zoom", default_processing_enabled=False, transform_rule="{% if false %}x{% endif %}"),
        body="https://acme.zoom.us/j/9876543210",
    )
    assert meeting.alias is None
    assert meeting.trace[0].outcome == "no_match"
    assert "transform_rule produced no alias" in meeting.trace[0].detail


def test_fallback_sip_h323_and_trace() -> None:
    meeting = process([], body="Room: h323:192.0.2.10, backup sip:bridge@x.example.com")
    assert (meeting.alias, meeting.protocol, meeting.rule) == (
        "192.0.2.10",
        CallProtocol.H323,
        "fallback",
    )
    meeting = process([], body="nothing", location="sip:meet.alice@vc.example.com;transport=tls")
    assert meeting.alias == "meet.alice@vc.example.com"
    meeting = process([], body="gossip:abc and nothing")
    assert meeting.alias is None
    assert meeting.trace[-1].rule == "fallback"
    assert meeting.trace[-1].outcome == "no_match"


def test_unknown_meeting_type_is_an_error_in_the_trace() -> None:
    meeting = process(
        [rule("zoomy", priority=1), rule("zoom")], body="https://acme.zoom.us/j/9876543210"
    )
    assert meeting.trace[0].outcome == "error"
    assert "unknown meeting type 'zoomy'" in meeting.trace[0].detail
    assert meeting.alias == "9876543210@zoomcrc.com"


def test_pex_uuid4_is_seeded_by_event_and_rule() -> None:
    custom = process(
        rule(
            "custom",
            name="uuid rule",
            custom_template="{{ pex_uuid4() }}@{{ pex_uuid4() }}.example.com",
        ),
        id="evt-1",
        ical_uid="uid-1",
    )
    assert custom.alias == (
        "6e94e668-9f79-4edf-935b-14400153fdd2@b3976ae1-9770-4b3e-a5bc-659390ae6716.example.com"
    )
    transformed = process(
        rule(
            "pexipinfinity",
            name="t",
            default_processing_enabled=False,
            transform_rule="{{ pex_uuid4() }}@{{ alias }}",
        ),
        id="evt-1",
        ical_uid="uid-1",
        location="pexip://vmr",
    )
    assert transformed.alias == "43aca0a9-f546-437f-b256-a386d01b4eec@vmr"


def test_trace_names_the_block_looked_in_and_where_values_came_from() -> None:
    link_only = (
        "Microsoft Teams meeting\n"
        "Join <https://teams.microsoft.com/l/meetup-join/19%3ameeting_Q%40thread.v2/0>\n"
        "________________\n"
        "Join Zoom Meeting\nhttps://acme.zoom.us/j/8063787231\nMeeting ID: 806 378 7231\n"
        "Passcode: 441905\n"
    )
    rules = [
        rule("teamssipguestjoin", name="sgj", priority=1),
        rule("zoom", name="zoom", priority=2, include_pin=True),
    ]
    meeting = process(rules, body=link_only)
    assert "in its block: body lines 2-2" in meeting.trace[0].detail
    assert meeting.trace[1].detail.startswith(
        "Zoom link, meeting ID 8063787231, numeric passcode 441905 (from body) in body"
    )
    assert meeting.alias == "8063787231.441905@zoomcrc.com"
