"""``pex_regex_search`` (one cached plan per pattern) answers what it answered before."""

from __future__ import annotations

from typing import Any

import regex
from hypothesis import given, settings
from hypothesis import strategies as st
from markupsafe import Markup

from otj.rules.filters import _text, literal_prefix, pex_regex_search

PATTERNS = ["sip:([0-9]+@[a-z\\-.]+)", "https:\\/\\/meet\\.google\\.com\\/([a-z\\-]+)", "(a)|b",
            "a+", "[", "x(?=1)", "\\d+", "", "ab(c)?"]  # fmt: skip
VALUES = st.one_of(
    st.text(alphabet="abcx1:@/ sip", max_size=12),
    st.sampled_from([None, 7, 1.5, Markup("sip:1@a"), "sip:12@b.c", "https://meet.google.com/x"]),
)


def _old_search(pattern: Any, string: Any) -> tuple[str, ...] | None:
    """``pex_regex_search`` as it was written ."""
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
