"""Hypothesis: processing any text or HTML never raises and is deterministic."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from otj.model import Profile
from otj.rules import RuleSet
from tests.unit.rules.helpers import NOW, event, rule

RULES = RuleSet.compile(
    [
        rule("pexipinfinity", priority=10),
        rule("teams", priority=20, domain="vc.example.com"),
        rule("ciscoteamsbody", priority=21),
        rule("polyteamsbody", priority=22),
        rule("teamssipguestjoin", priority=30),
        rule("zoom", priority=40, include_pin=True),
        rule("webex", priority=41),
        rule("gotomeeting", priority=42),
        rule("s4b", priority=43),
        rule("pexipservice", priority=44, domain="vc.example.com"),
        rule("domain", priority=45, domain="vc.example.com"),
        rule("hangouts", priority=46, domain="gmeet.example.com"),
        rule("regex", priority=47, match_string=r"Room (\d+)", replace_string=r"\1@x.example.com"),
        rule(
            "regex_re2", priority=48, match_string=r"VMR (\d+)", replace_string=r"\1@y.example.com"
        ),
        rule(
            "custom",
            priority=49,
            custom_template="{{ pex_regex_search('sip:(\\\\S+)', calendar_event.body)|first }}",
        ),
        rule("googlemeetsipguestjoin", priority=50),
    ]
)
PROFILE = Profile(name="p")

FRAGMENTS = st.sampled_from(
    [
        "https://meet.google.com/abc-defg-hij", "meet.google.com/", "teams@", "@m.webex.com",
        "@t.plcm.vc", "Video Conference ID: 123 456 789 0", "Meeting ID: 1 2", "Passcode: x",
        "https://teams.microsoft.com/l/x", "https://acme.zoom.us/j/", "123456789012",
        "zoomcrc.com", "webex.com/meet/", "inroomlink.goto.com", "pexip://", "sip:", "h323:",
        "https://eur01.safelinks.protection.outlook.com/?url=", "%3A%2F%2F",
        "https://urldefense.com/v3/__", "__;", "!!", "$", "*", "**A", "<a href=\"", "\">",
        "</a>", "<p>", "<br>", "<style>", "&amp;", "&nbsp;", "\n", " ", "İ", "ß", "\x00", "\ue000",
    ]
)  # fmt: skip
TEXT = st.lists(st.one_of(FRAGMENTS, st.text(max_size=20)), max_size=30).map("".join)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=TEXT, html=TEXT, location=TEXT, subject=st.text(max_size=40), private=st.booleans())
def test_processing_never_raises_and_is_deterministic(
    body: str, html: str, location: str, subject: str, private: bool
) -> None:
    evt = event(body=body, body_html=html, location=location, subject=subject, private=private)
    first = RULES.process(evt, PROFILE, now=NOW)
    second = RULES.process(evt, PROFILE, now=NOW)
    assert first == second
    assert first.listed in (True, False)
    assert len(first.trace) >= 1
    if first.alias is not None:
        assert first.alias.strip() == first.alias
        assert first.alias


@settings(max_examples=80, deadline=None)
@given(html=st.text(max_size=400))
def test_any_html_body_converts(html: str) -> None:
    from otj.rules.html import html_to_text

    text = html_to_text(html)
    assert "\x00" not in text
    assert html_to_text(html) == text
