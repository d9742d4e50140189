"""Dialog tokens (pure): only the key's holder makes them, bound to Call-ID and caller's tag."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from guestjoin.dialog_token import dialog_token, token_valid

KEY = b"k" * 32


def test_a_token_is_valid_for_its_call_id_and_either_tag() -> None:
    token = dialog_token(KEY, "call-1@host", "caller-tag")
    assert len(token) == 32
    assert token_valid(KEY, "call-1@host", ("caller-tag", "callee-tag"), token)  # from the caller
    assert token_valid(KEY, "call-1@host", ("callee-tag", "caller-tag"), token)  # from the callee
    assert token_valid(KEY, "call-1@host", ("caller-tag", ""), token.upper())


def test_a_token_is_worthless_elsewhere() -> None:
    token = dialog_token(KEY, "call-1@host", "caller-tag")
    assert not token_valid(KEY, "call-2@host", ("caller-tag", "x"), token)
    assert not token_valid(KEY, "call-1@host", ("other", "x"), token)
    assert not token_valid(b"j" * 32, "call-1@host", ("caller-tag", ""), token)
    assert not token_valid(KEY, "call-1@host", ("caller-tag",), None)
    assert not token_valid(KEY, "call-1@host", ("caller-tag",), "")
    assert not token_valid(KEY, "call-1@host", ("caller-tag",), token[:-1])
    assert not token_valid(KEY, "call-1@host", ("caller-tag",), "é" * 32)
    assert not token_valid(KEY, "call-1@host", ("", ""), dialog_token(KEY, "call-1@host", ""))


def test_call_id_and_tag_cannot_trade_characters() -> None:
    assert dialog_token(KEY, "ab", "c") != dialog_token(KEY, "a", "bc")


@given(st.text(max_size=40), st.text(min_size=1, max_size=20), st.text(min_size=1, max_size=20))
def test_only_the_right_tag_validates(call_id: str, tag: str, other: str) -> None:
    token = dialog_token(KEY, call_id, tag)
    assert token_valid(KEY, call_id, (other, tag), token)
    assert token_valid(KEY, call_id, (other,), token) == (other == tag)
