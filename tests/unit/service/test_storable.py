"""``otj.store.storable``: calendar text made storable on every backend (pure)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from otj.model import TraceStep
from otj.store.storable import clean_text, storable_event_id, storable_meeting
from tests.unit.delivery.meetings import meeting

# every code point, lone surrogates and NUL included
ANY_TEXT = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x10FFFF), max_size=80)


@pytest.mark.parametrize(
    ("value", "limit", "expected"),
    [
        ("plain", None, "plain"),
        ("Null\x00byte", None, "Nullbyte"),
        ("half \ud800 pair", None, "half \ufffd pair"),
        ("low \udfff", None, "low \ufffd"),
        ("😀 astral stays", None, "😀 astral stays"),
        ("abcdef", 3, "abc"),
        ("\x00\x00abc", 2, "ab"),
        ("", 5, ""),
    ],
)
def test_clean_text(value: str, limit: int | None, expected: str) -> None:
    assert clean_text(value, limit) == expected


@given(ANY_TEXT, st.one_of(st.none(), st.integers(min_value=0, max_value=100)))
def test_cleaned_text_is_always_storable(value: str, limit: int | None) -> None:
    cleaned = clean_text(value, limit)
    assert "\x00" not in cleaned
    cleaned.encode("utf-8")  # no lone surrogates
    assert limit is None or len(cleaned) <= limit
    assert clean_text(cleaned, limit) == cleaned  # idempotent


@given(st.text(alphabet=st.characters(min_codepoint=1, exclude_categories=("Cs",)), max_size=1024))
def test_storable_ids_are_kept(event_id: str) -> None:
    assert storable_event_id(event_id) == event_id


@given(ANY_TEXT, ANY_TEXT, st.integers(min_value=0, max_value=1100))
def test_event_ids_map_stably_into_the_column_and_never_collide(a: str, b: str, pad: int) -> None:
    a, b = a + "x" * pad, b + "x" * pad
    mapped = storable_event_id(a)
    assert mapped == storable_event_id(a)
    assert len(mapped) <= 1024
    assert clean_text(mapped) == mapped
    if a != b:
        assert storable_event_id(b) != mapped


def test_a_storable_meeting_is_returned_as_is() -> None:
    value = meeting()
    assert storable_meeting(value) is value


def test_every_text_field_of_a_meeting_is_cleaned() -> None:
    hostile = replace(
        meeting(),
        event_id="id\x00" + "i" * 2000,
        ical_uid="u" * 2000,
        subject="s\x00",
        organizer_name="n\ud800",
        organizer_email="e" * 400,
        alias="a\x00@example.com",
        rule="r" * 300,
        unlisted_reason="why\x00",
        trace=(
            TraceStep(rule="r\x00", meeting_type="custom", outcome="error", detail="d\udc00"),
            TraceStep(rule="ok", meeting_type="zoom", outcome="no_match"),
        ),
    )
    stored = storable_meeting(hostile)
    assert stored.event_id == storable_event_id(hostile.event_id)
    assert len(stored.ical_uid) == 1024
    assert (stored.subject, stored.organizer_name) == ("s", "n\ufffd")
    assert len(stored.organizer_email) == 320
    assert (stored.alias, stored.unlisted_reason) == ("a@example.com", "why")
    assert len(stored.rule or "") == 200
    assert (stored.trace[0].rule, stored.trace[0].detail) == ("r", "d\ufffd")
    assert stored.trace[1] is hostile.trace[1]
    assert (stored.start, stored.listed, stored.platform) == (
        hostile.start,
        hostile.listed,
        hostile.platform,
    )
