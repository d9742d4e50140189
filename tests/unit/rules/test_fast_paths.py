"""The fast text paths give exactly what the straightforward reference implementations give.

``tests/unit/rules/reference.py`` keeps the first, obviously-correct implementations of HTML →
text and link unwrapping; hypothesis feeds both hostile HTML and text and requires identical
output, character for character.
"""

from __future__ import annotations

import sys
from urllib.parse import unquote

import pytest
import regex
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from calendars.base import CalendarEvent, Conference
from otj.model import Profile
from otj.rules import links
from otj.rules.engine import CompiledRule, RuleSet, prepare
from otj.rules.filters import literal_prefix, pex_regex_search
from otj.rules.html import (
    _join_stripped,
    html_to_text,
    html_to_texts,
    normalise_whitespace,
    python_html_to_text,
)
from otj.rules.links import decode_safelinks, decode_wrapped_links, decode_wrapped_links_lower
from otj.rules.types import MEETING_TYPES
from tests.unit.rules import reference
from tests.unit.rules.helpers import NOW, conference, event, rule

SPACES = [" ", "  ", "\n", "\r\n", "\t", "\xa0", "\u2003", "\u3000", "\x0b", "\x1f", "\x85"]
WORDS = [
    "Join", "Meeting ID:", "123 456", "sip:1234@example.com", "&amp;", "&nbsp;", "&lt;",
    "&#64;", "é", "İ", "ß", "\U0001f600", "\u200b", "teams@vc.example.com", "x", "",
]  # fmt: skip
HREFS = [
    "https://meet.google.com/abc-defg-hij", " https://x.example.com/?a=1&amp;b=2 ", "#top", "",
    "mailto:a@example.com", "   ", "\u3000https://a.example/\xa0", "\u2028#x", "\u00e9 x\u1680",
    "https://eur01.safelinks.protection.outlook.com/?url=https%3A%2F%2Fzoom.us%2Fj%2F1&amp;data=05",
]  # fmt: skip
INLINE = ["span", "font", "a", "b", "strong", "i", "em", "u", "o:p", "small"]
BLOCK = ["p", "div", "td", "tr", "table", "li", "ul", "h3", "blockquote", "center", "pre"]
OTHER = ["style", "script", "svg", "math", "textarea", "title", "template", "select", "option",
         "noscript", "xmp", "iframe", "noembed", "frameset"]  # fmt: skip
VOID = ["<br>", "<br/>", "<img src=x>", "<hr>", "<wbr>", "<!-- c -->", "<!---->", "<meta x>",
        "<![CDATA[x]]>", "<?pi x?>", "<a href=y></a>", "<span></span>"]  # fmt: skip

TEXT = st.one_of(
    st.sampled_from([word for word in WORDS if word]),
    st.lists(st.sampled_from(SPACES + WORDS), max_size=6).map("".join),
)


TAGS = INLINE * 2 + BLOCK + OTHER
HREF = st.one_of(st.just(""), st.sampled_from(HREFS).map(lambda href: f' href="{href}"'))
OPEN = st.builds(lambda tag, href: f"<{tag}{href}>", st.sampled_from(TAGS), HREF)
CLOSE = st.sampled_from(TAGS).map(lambda tag: f"</{tag}>")
NESTED = st.recursive(
    TEXT,
    lambda inner: st.builds(
        lambda before, tag, href, body, after: f"{before}<{tag}{href}>{body}</{tag}>{after}",
        TEXT,
        st.sampled_from(TAGS),
        HREF,
        st.lists(inner, max_size=3).map("".join),
        TEXT,
    ),
    max_leaves=12,
)
HTML = st.lists(
    st.one_of(NESTED, TEXT, OPEN, CLOSE, st.sampled_from(VOID)), min_size=1, max_size=16
).map("".join)
"""Well-nested elements between token soup (unbalanced, misnested tags the parser repairs)."""


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@example(html="x<b>y</b>z<o:p></o:p>w<i><!-- c --></i>v")
@example(html="<svg><style><script>x</script>y</style></svg>z<a href=' u '>t</a>")
@given(html=HTML)
def test_html_to_text_matches_reference_on_generated_html(html: str) -> None:
    assert html_to_text(html) == reference.html_to_text(html)


@settings(max_examples=200, deadline=None)
@given(html=st.text(max_size=300))
def test_html_to_text_matches_reference_on_any_text(html: str) -> None:
    assert html_to_text(html) == reference.html_to_text(html)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@example(html="a<span><style>s</style></span>b<a href=' x '></a>c<b><i></i></b>d")
@given(html=HTML)
def test_python_fallback_matches_reference_on_generated_html(html: str) -> None:
    """The DOM-operation path (no native walk) is the same conversion."""
    assert python_html_to_text(html) == reference.html_to_text(html)


@settings(max_examples=400, deadline=None)
@given(
    text=st.lists(
        st.one_of(st.sampled_from([*SPACES, "\x00", "\x00\x00", "a", "b c"]), st.text(max_size=5)),
        max_size=20,
    ).map("".join)
)
def test_normalise_whitespace_matches_reference(text: str) -> None:
    assert normalise_whitespace(text) == reference.normalise_whitespace(text)


@settings(max_examples=400, deadline=None)
@given(
    parts=st.lists(
        st.lists(st.sampled_from([*SPACES, "a", "b c", "é", "x\u3000y"]), max_size=6).map("".join),
        max_size=8,
    )
)
def test_joining_stripped_parts_matches_reference(parts: list[str]) -> None:
    text = "\x00".join(part.strip() for part in parts)
    assert _join_stripped(text) == reference.normalise_whitespace(text)


@pytest.mark.parametrize("space", [*SPACES, "\r", "\x0c", "\x1c", "\x1d", "\x1e"])
def test_joining_stripped_parts_collapses_every_space(space: str) -> None:
    text = f"a{space}b\x00\x00c"
    assert _join_stripped(text) == reference.normalise_whitespace(text) == "a b\nc"


# --- whole engine: the fast paths change no Meeting ------------------------------------------

SAFELINK = (
    "https://eur01.safelinks.protection.outlook.com/?url=https%3A%2F%2Facme.zoom.us%2Fj%2F123456789"
    "&data=1"
)
FRAGMENTS = [
    "https://meet.google.com/abc-defg-hij", "meet.google.com/", "tel.meet/abc-defg-hij",
    "teams@vc.example.com", "x.teams@acme.example.com", "@m.webex.com", "acme@m.webex.com",
    "123@t.plcm.vc", "https://dialin.plcm.vc/teams/?key=123&conf=456",
    "Video Conference ID: 123 456 789 0", "VTC Conference ID: 42", "Meeting ID: 1 2",
    "Passcode: x1", "Password: 123456", "https://teams.microsoft.com/l/x",
    "https://pexip.me/teams/vc.example.com/123", "https://vc.example.com/teams/?conf=5&d=h.com",
    "https://acme.zoom.us/j/123456789", "123456789@zoomcrc.com", "1234567@acme.webex.com",
    "https://acme.webex.com/meet/bob", "inroomlink.goto.com", "Access Code: 555",
    "pexip://meet.bob@vc.example.com", "https://pexip.me/bob", "bob@vc.example.com",
    "https://meet.example.com/bob/ABCD12", "1234567890@gmeet.example.com", "sip:", "sips:bob@x",
    "h323:1.2.3.4", "Room 42", "VMR 7", "%3A%2F%2F", SAFELINK,
    "https://urldefense.com/v3/__https://pexip.me/x__;!!a!b$", "\n", " ", "<", ">", "İ", "ß",
]  # fmt: skip
FREE = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=8)), max_size=12).map(
    "".join
)
CONFERENCE = st.one_of(
    st.none(),
    st.builds(
        lambda solution, conference_id, points: conference(solution, conference_id, *points),
        st.sampled_from(["hangoutsMeet", "teamsForBusiness", "zoom"]),
        st.sampled_from(["", "abc-defg-hij", "not-a-code"]),
        st.lists(
            st.tuples(
                st.sampled_from(["video", "sip", "phone"]),
                st.sampled_from(
                    [
                        "sip:123456789012@gmeet.example.com",
                        "https://acme.zoom.us/j/123456789",
                        "https://meet.google.com/abc-defg-hij",
                        "pexip://vmr@vc.example.com",
                        "https://pexip.me/teams/vc.example.com/123",
                        "https://zoom.us/j/1",
                        "",
                    ]
                ),
            ),
            max_size=2,
        ),
    ),
)


def _all_types(domain: str) -> RuleSet:
    names = [name for name in MEETING_TYPES if name not in ("regex", "regex_re2", "custom")]
    rules = [
        rule(name, name=f"{index:02d} {name}", priority=10 + index, domain=domain)
        for index, name in enumerate(names)
    ]
    rules.append(rule("custom", priority=190, custom_template=SEED_TEMPLATE))
    rules.append(rule("regex", priority=191, match_string=r"Room (\d+)", replace_string=r"\1@x"))
    return RuleSet.compile(rules)


SEED_TEMPLATE = (
    '{% set j = pex_regex_search("https:\\\\/\\\\/meet\\\\.google\\\\.com\\\\/([a-z\\\\-]+)", '
    'calendar_event.body) %}{% set s = pex_regex_search("sip:([0-9]+@[a-z\\\\-.]+)", '
    "calendar_event.body) %}{% if s %}{{s[0]}}{% elif j %}{{j[0]}}@google.pexip.me{% endif %}"
)
RULESETS = [_all_types(""), _all_types("vc.example.com"), _all_types("gmeet.example.com")]


def _slow_path(ruleset: RuleSet) -> RuleSet:
    """The same rules with every shortcut switched off."""
    slow = RuleSet([CompiledRule(compiled.rule) for compiled in ruleset.rules])
    for compiled in slow.rules:
        compiled.miss_step = None
    return slow


SLOW_RULESETS = [_slow_path(ruleset) for ruleset in RULESETS]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    body=FREE,
    html=st.one_of(st.just(""), HTML, FREE),
    location=FREE,
    conference_data=CONFERENCE,
    which=st.integers(0, len(RULESETS) - 1),
)
def test_shortcuts_change_no_meeting(
    body: str, html: str, location: str, conference_data: Conference | None, which: int
) -> None:
    evt = event(body=body, body_html=html, location=location, conference=conference_data)
    profile = Profile(name="p")
    fast = RULESETS[which].process(evt, profile, now=NOW)
    slow = SLOW_RULESETS[which].process(evt, profile, now=NOW)
    assert fast == slow


# --- templates: the literal-prefix short cut of pex_regex_search -----------------------------

PATTERN_PIECES = [
    "a", "b", "ab", "é", ":", "/", "@", "-", " ", "\\.", "\\/", "\\-", "\\\\", ".", "*", "+", "?",
    "{2}", "{0,2}", "{e<=1}", "[a-z]", "[^a]", "(", ")", "(?:", "(?i)", "(?i:", "|", "\\d", "\\w",
    "\\s", "\\b", "^", "$", "#", "(?<=a)", "(?=b)", "\\1", "\\x41", "\\N{LATIN SMALL LETTER A}",
]  # fmt: skip
SUBJECTS = st.lists(
    st.sampled_from(["a", "b", "A", "é", ":", "/", "@", "-", " ", ".", "\\", "1", "\n"]),
    max_size=12,
).map("".join)


@pytest.mark.parametrize(
    ("pattern", "prefix"),
    [
        (r"https:\/\/meet\.google\.com\/([a-z\-]+)", "https://meet.google.com/"),
        (r"sip:([0-9]+@[a-z\-.]+)", "sip:"),
        ("abc*", "ab"), ("abc+d", "abc"), ("ab{2}", "a"), ("x?y", ""), (r"\d+", ""),
        ("a|b", ""), ("(?i)abc", ""), ("abc(?i)", ""), (r"Room (\d+)", "Room"), ("", ""),
        (r"\\x", "\\x"), (r"a\nb", "a"), ("é+x", "é"),
    ],
)  # fmt: skip
def test_literal_prefix(pattern: str, prefix: str) -> None:
    assert literal_prefix(pattern) == prefix


@settings(max_examples=400, deadline=None)
@given(
    pattern=st.lists(st.sampled_from(PATTERN_PIECES), min_size=1, max_size=6).map("".join),
    subject=SUBJECTS,
)
def test_literal_prefix_starts_every_match(pattern: str, subject: str) -> None:
    try:
        compiled = regex.compile(pattern, regex.VERSION0)
    except (regex.error, ValueError):
        return
    prefix = literal_prefix(pattern)
    for match in compiled.finditer(subject, overlapped=True):
        assert match.group(0).startswith(prefix), (pattern, subject, match)
    assert (pex_regex_search(pattern, subject) is None) == (compiled.search(subject) is None)


# --- link unwrapping ---------------------------------------------------------------------------

LINK_PIECES = [
    "https://", "http://", "HTTPS://", "eur01.", "x_y.", "safelinks.protection.outlook.com/",
    "url=", "?u=", "https%3A%2F%2Fzoom.us%2Fj%2F1", "%CE%A3", "%C4%B0", "%20", "+", "#frag", "&",
    "<", ">", '"', "'", " ", "\n", "\xa0", "\u2003", "Σ", "ς", "İ", "ΑΣ", "a", ":", "/", "?",
    "zoom.us/j/123", "urldefense", "https://urldefense.proofpoint.com/v2/url?u=https-3A__x.com_y&d=1",
    "https://urldefense.com/v3/__https://pexip.me/x*y__;Iw!!a!b$",
]  # fmt: skip
WRAPPER = st.builds(
    "".join,
    st.tuples(
        st.sampled_from(["https://", "http://", "HTTPS://", "ftp://", ""]),
        st.sampled_from(["eur01.", "NAM12.", "", "x_y.", "a.b-c.", "é."]),
        st.sampled_from(["safelinks.protection.outlook.com/", "SafeLinks.Protection.Outlook.com/"]),
        st.sampled_from(["?", "ap/x/?", "", "x?a=1&", "?a=b&amp;"]),
        st.sampled_from(["url=", "amp;url=", "&url=", "u="]),
        st.sampled_from(
            [
                "https%3A%2F%2Facme.zoom.us%2Fj%2F123",
                "https://meet.google.com/abc-defg-hij",
                "a%3A%CE%A3",
                "x%3Ay%C4%B0",
                "https%3A%2F%2Fa%20b",
                "mailto%3Ab%40c",
                "noscheme",
                "",
                "https%3A%2F%2Fx.safelinks.protection.outlook.com%2F%3Furl%3Dhttps%253A%252F%252Fy",
            ]
        ),
        st.sampled_from(["&data=05%7C02&reserved=0", "#x", "", "&amp;sdata=1", "+z", "'q"]),
    ),
)
LINK_TEXT = st.lists(
    st.one_of(WRAPPER, st.sampled_from(LINK_PIECES), st.text(max_size=4)), max_size=16
).map("".join)


@settings(max_examples=600, deadline=None)
@example(text="ΑΣhttps://x.safelinks.protection.outlook.com/?url=1%3Ab")
@example(text="https://x.safelinks.protection.outlook.com/?url=a%3A%CE%A3 b")
@given(text=LINK_TEXT)
def test_decode_wrapped_links_matches_reference(text: str) -> None:
    decoded, lowered = decode_wrapped_links_lower(text)
    expected = reference.decode_wrapped_links(text)
    assert decoded == expected
    assert lowered == expected.lower()
    assert decode_wrapped_links(text) == expected
    assert decode_safelinks(text) == reference.decode_safelinks(text)


# --- batched processing ----------------------------------------------------------------------

EVENT = st.builds(
    lambda body, html, location, conference_data, number: event(
        id=f"evt-{number}",
        body=body,
        body_html=html,
        location=location,
        conference=conference_data,
    ),
    FREE,
    st.one_of(st.just(""), HTML, FREE),
    FREE,
    CONFERENCE,
    st.integers(0, 3),
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=st.lists(EVENT, max_size=5), which=st.integers(0, len(RULESETS) - 1))
def test_process_many_equals_process_one_by_one(events: list[CalendarEvent], which: int) -> None:
    ruleset, profile = RULESETS[which], Profile(name="p")
    expected = [ruleset.process(evt, profile, now=NOW) for evt in events]
    assert ruleset.process_many(events, profile, now=NOW) == expected


def test_a_stage_failing_in_prepare_fails_in_process_as_before(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def convert(html: str) -> tuple[str, str]:
        if "boom" in html:
            raise ValueError("conversion failed")
        return html_to_texts(html)

    monkeypatch.setattr("otj.rules.text.html_to_texts", convert)
    good, bad = event(id="a", body_html="<p>sip:a@b.example</p>"), event(id="b", body_html="boom")
    texts = prepare([good, bad])
    ruleset, profile = RULESETS[0], Profile(name="p")
    assert ruleset.process(good, profile, now=NOW, text=texts[0]).alias == "a@b.example"
    with pytest.raises(ValueError, match="conversion failed"):
        ruleset.process(bad, profile, now=NOW, text=texts[1])
    with pytest.raises(ValueError, match="conversion failed"):
        ruleset.process_many([good, bad], profile, now=NOW)


# --- Safe Links internals: percent-decoding and the URL scan -----------------------------------

ESCAPES = st.lists(
    st.one_of(
        st.sampled_from(["%", "%2", "%2F", "%2f", "%3A", "%3D", "=", "==", "=3D", "%%", "%C3%A9"]),
        st.sampled_from(["%CE%A3", "%E2%82", "%FF", "%0A", "%0D", "%20", "+", "\n", "\r", "é"]),
        st.sampled_from(["_", "a", "F", "g", "0", "9", "&", "#", "?", " "]),
        st.text(max_size=3),
    ),
    max_size=12,
).map("".join)


@settings(max_examples=600, deadline=None)
@example(value="a%\nb")
@example(value="%=3D")
@example(value="x%")
@given(value=ESCAPES)
def test_unquote_matches_urllib(value: str) -> None:
    assert links._unquote(value) == unquote(value)


def test_whitespace_is_every_isspace_character() -> None:
    spaces = {chr(code) for code in range(sys.maxunicode + 1) if chr(code).isspace()}
    assert set(links._WHITESPACE) == spaces


def safelink_to(value: str) -> str:
    """A Safe Links wrapper whose ``url`` parameter is ``value``."""
    return f"https://a.safelinks.protection.outlook.com/?url={value}&data=1"


URL_NOISE = st.lists(
    st.one_of(
        WRAPPER,
        st.sampled_from(
            [
                "https://eur01.safelinks.protection.outlook.com/",
                "HTTP://x.SafeLinks.Protection.Outlook.com/", "safelinks.protection.outlook.com/",
                "http", "https://", "?", "&",
                "amp;", "&amp;", "url=", "URL=", "&AMP;url=", "?url=", "%3A", "%2F", "%", "=", "+",
                "#", "<", ">", '"', "'", " ", "\t", "\x85", "\xa0", "\u3000", "\x00", "\x7f", "ſ",
                "\u212a", "ı", "Σ", "İ", "x:y", "a:", "/", "-", ".", "_", "outloo\u212a",
            ]
        ),
        st.text(alphabet="?&=%:/.-+#<> aAuUrRlL", max_size=6),
    ),
    max_size=14,
).map("".join)  # fmt: skip


@settings(max_examples=800, deadline=None)
@example(text="https://a.safelinks.protection.outlook.com/?x=1&amp;url=b:c&url=d:e#f g")
@example(text="https://a.safelinks.protection.outlook.com/?URL=b:c&url=d:e>")
@example(text="https://b.safelinks.protection.outlook.co" + safelink_to("m%2F%3Furl%3Dx:y"))
@example(text=safelink_to("x:https%3A%2F%2Fb.safelinks.protection.outlook.com%2F%3Furl%3Dy:z"))
@example(text=safelink_to("e:1") + " " + safelink_to("a:urldefens") + safelink_to("e:2"))
@given(text=URL_NOISE)
def test_safelinks_scan_matches_reference(text: str) -> None:
    decoded, lowered = decode_wrapped_links_lower(text)
    expected = reference.decode_wrapped_links(text)
    assert decoded == expected
    assert lowered == expected.lower()


@settings(max_examples=600, deadline=None)
@given(
    text=st.lists(
        st.one_of(
            st.sampled_from(["A", "b", "Meet", "\u2013", "\u00e9", "\u00c9", "\u03a3", "\u0130"]),
            st.text(max_size=4),
            st.characters(min_codepoint=0x80),
        ),
        max_size=12,
    ).map("".join)
)
@example(text="Join \u2013 MEET.google.com/ABC")
@example(text="\u00c9COLE \u2013 x")
@example(text="\u039f\u0394\u039f\u03a3 end")
@example(text="\u0130stanbul")
@example(text="a\ud800B")
def test_lower_matches_str_lower(text: str) -> None:
    assert links.lower(text) == text.lower()


# --- Safe Links: several wrappers per text, hostile values, against the reference -----------

VALUES = [
    "https%3A%2F%2Facme.zoom.us%2Fj%2F1", "https://meet.google.com/abc-defg-hij", "x%3Ay", "a:b",
    "%E2%82", "%C3", "%FF", "%", "%2", "%%", "%3d", "=", "=3D", "+", "a%2Bb:c", "%20", "%0A", "%09",
    "%C2%A0", "%CE%A3", "%C4%B0", "Σ", "İ", "é:x", "ſ", "\u212a", "", "noscheme", "123456789012:",
    "12345678901:", "%3A", "urldefense:x", "s:x", "http:x", "https%3Ax", "HTTP:x", "%E2%80%8B",
    "httpabcdefghijk:x", "https%3A%2F%2Fx.safelinks.protection.outlook.com%2F",
]  # fmt: skip
SAFELINKS_TEXT = st.lists(
    st.one_of(
        st.builds(
            "".join,
            st.tuples(
                st.sampled_from(["https://", "http://", "HTTPS://", "hTtP://", "https://http", ""]),
                st.sampled_from(["eur01.", "", "A.b-C.", "x_y.", "\u212a.", "a" * 33]),
                st.sampled_from(
                    [
                        "safelinks.protection.outlook.com/",
                        "SafeLinks.Protection.Outloo\u212a.com/",
                        "safelinks.protection.outlook.com",
                    ]
                ),
                st.sampled_from(["?", "ap/x/?", "?a=1&", "?a=b&amp;", "?x=1&AMP;", ""]),
                st.sampled_from(["url=", "amp;url=", "URL=", "u=", "url=url="]),
                st.lists(st.sampled_from(VALUES), max_size=3).map("".join),
                st.sampled_from(["&data=05%7C02", "#x", "", "&url=b:c", "'q", "&amp;x=1"]),
            ),
        ),
        st.sampled_from([" ", "\n", "<", ">", "\u3000", "ΑΣ", "İ", "a", "http", "https://"]),
    ),
    max_size=10,
).map("".join)


@settings(max_examples=1000, deadline=None)
@example(text=safelink_to("a:1") + " " + safelink_to("b%3A2") + " " + safelink_to("%E2%82"))
@example(text=safelink_to("a:%C3") + " " + safelink_to("%82:b"))
@example(text=safelink_to("a:b+c") + " " + safelink_to("d:e"))
@example(text=safelink_to("a:b%20c") + " " + safelink_to("d:e"))
@example(text=safelink_to("x:1") + " " + safelink_to("") + " " + safelink_to("y:2"))
@example(text="https://http" + safelink_to("a:b")[8:])
@example(text="https://a_b.safelinks.protection.outlook.com/?u=" + safelink_to("x:y"))
@example(text=safelink_to("a:\u03a3") + " İ " + safelink_to("S:x"))
@example(text=safelink_to("https%3Ax") + " " + safelink_to("httpabcdefghijk:x"))
@example(text=safelink_to("http:x") + " " + safelink_to("a%E2%80%8B:b"))
@given(text=SAFELINKS_TEXT)
def test_batched_safelinks_match_reference(text: str) -> None:
    decoded, lowered = decode_wrapped_links_lower(text)
    expected = reference.decode_wrapped_links(text)
    assert decoded == expected
    assert lowered == expected.lower()
    assert decode_safelinks(text) == reference.decode_safelinks(text)
