"""The ng protocol's bencode (BEP 3): encoding, decoding, and refusal of malformed input."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from guestjoin.media.bencode import BencodeError, Value, decode, encode


@pytest.mark.parametrize(
    ("value", "wire"),
    [
        (0, b"i0e"),
        (-42, b"i-42e"),
        ("ping", b"4:ping"),
        ("", b"0:"),
        ("é", b"2:\xc3\xa9"),
        (["a", 1], b"l1:ai1ee"),
        ({"command": "ping"}, b"d7:command4:pinge"),
        ({"b": 1, "a": [], "ab": {}}, b"d1:ale2:abde1:bi1ee"),  # keys sorted as bytes
    ],
)
def test_encode_and_decode_known_values(value: Value, wire: bytes) -> None:
    assert encode(value) == wire
    assert decode(wire) == value


def test_binary_strings_stay_bytes() -> None:
    assert decode(b"2:\xff\xfe") == b"\xff\xfe"


@pytest.mark.parametrize(
    "wire",
    [
        b"",
        b"i01e",
        b"i-0e",
        b"ie",
        b"i12",
        b"5:abc",
        b"03:abc",
        b"l1:a",
        b"d1:a",
        b"di1ei2ee",  # integer key
        b"4:pingX",  # trailing bytes
        b"x",
        b"l" * 40 + b"e" * 40,  # nested too deep
    ],
)
def test_malformed_input_is_refused(wire: bytes) -> None:
    with pytest.raises(BencodeError):
        decode(wire)


def test_booleans_and_unknown_types_are_not_encoded() -> None:
    with pytest.raises(TypeError):
        encode(True)
    with pytest.raises(TypeError):
        encode(1.5)


values: st.SearchStrategy[Value] = st.recursive(
    st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@given(values)
def test_round_trip(value: Value) -> None:
    assert decode(encode(value)) == value
