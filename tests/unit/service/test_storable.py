"""``otj.store.storable``: a meeting fitted to its row's column lengths (pure)."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from otj.model import TraceStep
from otj.store.storable import storable_event_id, storable_meeting
from tests.unit.delivery.meetings import meeting

ID_TEXT = st.text(alphabet=st.characters(min_codepoint=0x20, exclude_categories=("Cs",)))


@given(ID_TEXT.filter(lambda text: len(text) <= 1024))
def test_ids_that_fit_are_kept(event_id: str) -> None:
    assert storable_event_id(event_id) == event_id


@given(ID_TEXT, ID_TEXT, st.integers(min_value=0, max_value=1100))
def test_event_ids_map_stably_into_the_column_and_never_collide(a: str, b: str, pad: int) -> None:
    a, b = a + "x" * pad, b + "x" * pad
    mapped = storable_event_id(a)
    assert mapped == storable_event_id(a)
    assert len(mapped) <= 1024
    if a != b:
        assert storable_event_id(b) != mapped


def test_a_meeting_that_fits_is_returned_as_is() -> None:
    value = meeting()
    assert storable_meeting(value) is value


def test_bounded_texts_are_cut_to_their_columns_and_nothing_else_changes() -> None:
    long = replace(
        meeting(),
        event_id="i" * 2000,
        ical_uid="u" * 2000,
        subject="s" * 5000,
        organizer_email="e" * 400,
        rule="r" * 300,
        trace=(TraceStep(rule="ok", meeting_type="zoom", outcome="no_match", detail="d" * 5000),),
    )
    stored = storable_meeting(long)
    assert stored.event_id == storable_event_id(long.event_id)
    assert len(stored.ical_uid) == 1024
    assert len(stored.organizer_email) == 320
    assert len(stored.rule or "") == 200
    assert (stored.subject, stored.trace) == (long.subject, long.trace)  # text columns: unbounded
    assert (stored.start, stored.listed, stored.platform) == (
        long.start,
        long.listed,
        long.platform,
    )
