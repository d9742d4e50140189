"""``filters.occurs`` (a prefix found from its ``:``/``@`` places) answers ``prefix in text``, and
``pex_regex_search`` (one cached plan per pattern) answers what it answered before."""

from __future__ import annotations

from typing import Any

import regex
from hypothesis import example, given, settings
from hypothesis import strategies as st
from markupsafe import Markup

from otj.rules.filters import _text, literal_prefix, occurs, pex_regex_search

PREFIXES = ["sip:", "sips:", ":", "@", "a@b", "h323:", "::", ":@", "x", "", "https://meet.g"]
PIECES = ["sip", "sip:", "si", "p:", ":", "@", "a", "b", "s", " ", "é", "İ", "\U0001f600", "h323"]
TEXT = st.lists(st.sampled_from(PIECES), max_size=80).map("".join)


@settings(max_examples=1000, deadline=None)
@example(prefix="sip:", text=":" * 40 + "sip:")
@example(prefix="sip:", text="sip" + ":" * 40)
@example(prefix=":@", text=":" * 31 + ":@")
@example(prefix="sip:", text="ip:")
@given(prefix=st.sampled_from(PREFIXES) | st.text(max_size=4), text=TEXT | st.text(max_size=60))
def test_occurs_is_in(prefix: str, text: str) -> None:
    assert occurs(prefix, text) is (prefix in text)


PATTERNS = ["sip:([0-9]+@[a-z\\-.]+)", "https:\\/\\/meet\\.google\\.com\\/([a-z\\-]+)", "(a)|b",
            "a+", "[", "x(?=1)", "\\d+", "", "ab(c)?"]  # fmt: skip
VALUES = st.one_of(
    st.text(alphabet="abcx1:@/ sip", max_size=12),
    st.sampled_from([None, 7, 1.5, Markup("sip:1@a"), "sip:12@b.c", "https://meet.google.com/x"]),
)


def _old_search(pattern: Any, string: Any) -> tuple[str, ...] | None:
    """``pex_regex_search`` as it was written (no known needles in these texts)."""
    source, text = _text(pattern), _text(string)
    compiled = regex.compile(source, regex.VERSION0)
    prefix = literal_prefix(source)
    if prefix and prefix not in text:
        return None
    match = compiled.search(text)
    if match is None:
        return None
    groups = match.groups()
    return (match.group(0),) if not groups else tuple("" if g is None else g for g in groups)


@settings(max_examples=500, deadline=None)
@given(pattern=st.sampled_from(PATTERNS) | VALUES, string=VALUES)
def test_pex_regex_search_equals_the_old_search(pattern: Any, string: Any) -> None:
    try:
        expected: Any = _old_search(pattern, string)
    except regex.error as exc:
        expected = type(exc)
    try:
        got: Any = pex_regex_search(pattern, string)
    except regex.error as exc:
        got = type(exc)
    assert got == expected
