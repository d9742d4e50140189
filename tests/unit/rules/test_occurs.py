"""``filters.occurs`` (a prefix found from its ``:``/``@`` places) answers ``prefix in text``."""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from otj.rules.filters import occurs

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
