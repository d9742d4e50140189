"""The finders' anchored searches (``types._search`` with ``starts``) equal ``re`` searches.

The reference patterns are the built-in ones written out again here: for any text and any
window, trying only the candidate starts must give the same match as ``pattern.search``.
"""

from __future__ import annotations

import re

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from otj.rules import types
from otj.rules.types import Starts

WEBEX = re.compile(
    r"(?<![\w.+-])(?:(?i:sips?):)?(?P<number>\d{6,14})@(?P<site>(?i:[a-z0-9-]+(?:\.[a-z0-9-]+)*))\.(?i:webex\.com)(?![\w-]|\.\w)"
    r"|(?i:https?://)(?P<room_site>(?i:[a-z0-9-]+(?:\.[a-z0-9-]+)*))\.(?i:webex\.com)/(?i:meet)/(?P<user>[\w.+-]*[\w+-])"
)
CISCO = re.compile(r"(?<![\w.+@-])([\w.+-]+)@(?i:m\.webex\.com)(?![\w-]|\.\w)")
POLY = re.compile(r"(?<![\w.+@-])([\w.+-]+)@(?i:t\.plcm\.vc)(?![\w-]|\.\w)")
PEXIP = re.compile(
    r"(?<![\w.+-])((?:[\w-]+\.)*?)(?i:teams)@((?:[a-z0-9-]+\.)+[a-z0-9-]+)(?![\w-])", re.IGNORECASE
)

CASES: list[tuple[re.Pattern[str], re.Pattern[str], Starts]] = [
    (WEBEX, types._WEBEX, types._webex_starts),
    (CISCO, types._CISCO_TENANT, types._address_starts),
    (POLY, types._POLY_TENANT, types._address_starts),
    (PEXIP, types._PEXIP_TENANT, types._address_starts),
]

FRAGMENTS = [
    "@", "@@", "acme", "ACME", "12345678", "1234567890123", "123456789012345", "٣٤٥٦٧٨٩",
    "sip:", "SIPS:", "ſip:", "sips:", "http://", "HTTPS://", "https://", ".webex.com",
    "acme.WebEx.com", "webex.com/meet/bob", "/MEET/", "m.webex.com", "@m.webex.com",
    "t.plcm.vc", "@t.plcm.vc", "teams@", "TEAMS@", "teamſ@", "vc.example.com", ".", "+", "-",
    "_", ":", " ", "\n", "\u00a0", "é", "İ", "ı", "K", "ß", "中", "<", ">", "'", '"', "/",
]  # fmt: skip


def _check(reference: re.Pattern[str], pattern: re.Pattern[str], starts: Starts, text: str) -> None:
    assert pattern.pattern == reference.pattern
    assert pattern.flags == reference.flags
    lower = text.lower()
    if len(lower) != len(text):
        return  # _near then scans the whole text with finditer
    size = len(text)
    for begin in range(size + 1):
        for end in {begin, min(size, begin + 7), min(size, begin + 40), size}:
            expected = reference.search(text, begin, end)
            got = types._search(pattern, starts, text, lower, begin=begin, end=end)
            assert (got and (got.span(), got.groups())) == (
                expected and (expected.span(), expected.groups())
            ), (text, begin, end)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    case=st.sampled_from(range(len(CASES))),
    parts=st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=3), max_size=14),
)
@example(case=0, parts=["123456789", "@acme.webex.com"])
@example(case=0, parts=["sip:", "123456789", "@acme.webex.com"])
@example(case=0, parts=["x", "sips:", "1234567", "@a.webex.com", "sip:", "7654321@b.webex.com"])
@example(case=0, parts=["12345678901234567", "@acme.webex.com"])
@example(case=0, parts=["ſips:", "٣٤٥٦٧٨٩", "@acme.webex.com"])
@example(case=0, parts=["HTTPS://", "acme.webex.com/meet/bob"])
@example(case=1, parts=["acme", "@m.webex.com", "\n", "x@", "b@m.webex.com"])
@example(case=1, parts=["a@", "b", "@m.webex.com"])
@example(case=2, parts=["é", "+", "813878896", "@t.plcm.vc"])
@example(case=3, parts=["teams@", "vc.example.com"])
@example(case=3, parts=["x.", "TEAMſ@", "vc.example.com", " ", "+teams@", "vc.example.com"])
def test_anchored_search_equals_re_search(case: int, parts: list[str]) -> None:
    reference, pattern, starts = CASES[case]
    _check(reference, pattern, starts, "".join(parts))


@given(parts=st.lists(st.sampled_from(FRAGMENTS), max_size=40))
@settings(max_examples=100, deadline=None)
def test_near_with_starts_equals_near_without(parts: list[str]) -> None:
    """Windows around needles give the same matches whether or not starts are used."""
    text = "".join(parts)
    lower = text.lower()
    for reference, pattern, starts in CASES:
        for needles in (("webex.com",), ("@m.webex.com",), ("@t.plcm.vc",), ("teams@",)):
            plain = types._near(reference, text, lower, needles, back=80, ahead=96)
            fast = types._near(pattern, text, lower, needles, back=80, ahead=96, starts=starts)
            assert [m.span() for m in fast] == [m.span() for m in plain]
