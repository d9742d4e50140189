# ruff: noqa: E501  (tables of real-looking invitation texts)
"""HTML bodies → plain text with link targets (DESIGN.md §4.1)."""

from __future__ import annotations

import pytest

from otj.rules.html import html_to_text, looks_like_html
from tests.shared import TESTDATA

REAL = TESTDATA / "real"

CASES = [
    ('<p>Hello</p><p><a href="https://meet.google.com/abc-defg-hij">Join with Google Meet</a></p>',
     "Hello\nJoin with Google Meet <https://meet.google.com/abc-defg-hij>"),
    ("<div>Fish &amp; chips&nbsp;&lt;3 &#43;47</div>", "Fish & chips <3 +47"),
    ("<p>Join\n   Microsoft   Teams</p>\n\n<p>  Meeting ID: <span>351</span> <b>772</b></p>",
     "Join Microsoft Teams\nMeeting ID: 351 772"),
    ("line one<br>line two<br/><br />line three", "line one\nline two\nline three"),
    ("<table><tr><td>When</td><td>Tue</td></tr><tr><td>Where</td><td>Oslo</td></tr></table>",
     "When\nTue\nWhere\nOslo"),
    ("<style>p{color:red}</style><script>alert(1)</script><p>visible</p><!-- hidden -->", "visible"),
    ('<a href="mailto:813878896@t.plcm.vc">813878896@t.plcm.vc</a> VTC Conference ID: 016528037',
     "813878896@t.plcm.vc <mailto:813878896@t.plcm.vc> VTC Conference ID: 016528037"),
    ('<a href="https://x.example.com/?a=1&amp;b=2">x</a>', "x <https://x.example.com/?a=1&b=2>"),
    ('<a href="#top">top</a><a>no href</a>', "topno href"),
    ("<div>outer<div>inner</div>tail</div>", "outer\ninner\ntail"),
    ("", ""),
    ("plain text only", "plain text only"),
]  # fmt: skip


@pytest.mark.parametrize(("html", "text"), CASES)
def test_html_to_text(html: str, text: str) -> None:
    assert html_to_text(html) == text


def test_real_outlook_teams_body_keeps_cvi_line() -> None:
    text = html_to_text((REAL / "teams-2.html").read_text(encoding="utf-8"))
    assert (
        "813878896@t.plcm.vc <mailto:813878896@t.plcm.vc> VTC Conference ID: 016528037"
        in text.splitlines()
    )
    assert "Join Microsoft Teams Meeting <https://teams.microsoft.com/l/meetup-join/" in text
    assert "font-family" not in text


def test_real_webex_body_keeps_sip_href_and_split_number() -> None:
    text = html_to_text((REAL / "webex-3.html").read_text(encoding="utf-8"))
    assert "Meeting number (access code): 2425 861 4408" in text.splitlines()
    assert "Dial 24258614408@ietf.webex.com <sip:24258614408@ietf.webex.com>" in text


def test_real_google_body_keeps_meet_href() -> None:
    text = html_to_text((REAL / "meet-2.html").read_text(encoding="utf-8"))
    assert "meet.google.com/ioi-aqwe-wms <https://meet.google.com/ioi-aqwe-wms>" in text


@pytest.mark.parametrize(
    ("text", "html"),
    [
        ("Click here <https://teams.microsoft.com/l/x> to join", False),
        ("Write to <mailto:a@example.com>", False),
        ('Join <a href="https://meet.google.com/abc-defg-hij">here</a>', True),
        ("first line<br>second line", True),
        ("a < b and c > d", False),
    ],
)
def test_looks_like_html(text: str, html: bool) -> None:
    assert looks_like_html(text) is html
