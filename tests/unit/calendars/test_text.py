"""``calendars.text``: invitation text made clean once, at the adapter edge (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from xml.etree import ElementTree

import pytest
from hypothesis import given
from hypothesis import strategies as st

from calendars.base import (
    Attendee,
    CalendarEvent,
    CalendarUnavailable,
    Conference,
    EntryPoint,
    SyncResult,
)
from calendars.edge import guarded_sync
from calendars.text import clean_event, clean_id, clean_text, one_line

# every code point: NUL, C0 controls, lone surrogates, U+FFFE, astral planes
ANY_TEXT = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x10FFFF), max_size=80)
START = datetime(2026, 12, 7, 9, tzinfo=UTC)


def carried_by_xml_and_utf8(text: str) -> bool:
    element = ElementTree.Element("t")
    element.text = text
    parsed = ElementTree.fromstring(ElementTree.tostring(element, encoding="unicode"))
    text.encode("utf-8")
    return (parsed.text or "") == text.replace("\r\n", "\n").replace("\r", "\n")  # §2.11


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("plain", "plain"),
        ("Null\x00byte", "Nullbyte"),
        ("bell\x07 and escape\x1b", "bell and escape"),
        ("half \ud800 pair", "half \ufffd pair"),
        ("not a char \ufffe\uffff", "not a char "),
        ("😀 astral stays", "😀 astral stays"),
        ("lines\r\nand\ttabs stay", "lines\r\nand\ttabs stay"),
    ],
)
def test_clean_text(value: str, expected: str) -> None:
    assert clean_text(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("  Weekly \n sync\t(1)  ", "Weekly sync (1)"),
        ("no\u00a0break\u2003space", "no break space"),
        ("nul\x00and\x0bvt", "nulandvt"),  # a control is dropped, not a space
        ("fine as is", "fine as is"),
    ],
)
def test_one_line(value: str, expected: str) -> None:
    assert one_line(value) == expected


@given(ANY_TEXT)
def test_clean_text_is_carried_everywhere_and_idempotent(value: str) -> None:
    cleaned = clean_text(value)
    assert carried_by_xml_and_utf8(cleaned)
    assert clean_text(cleaned) == cleaned


@given(ANY_TEXT)
def test_one_line_has_single_spaces_only(value: str) -> None:
    line = one_line(value)
    assert carried_by_xml_and_utf8(line)
    assert line == " ".join(line.split())
    assert one_line(line) == line


@given(ANY_TEXT, ANY_TEXT)
def test_ids_keep_their_identity(a: str, b: str) -> None:
    assert clean_id(a) == clean_id(a)
    assert one_line(clean_id(a)) == clean_id(a)
    if a != b:
        assert clean_id(a) != clean_id(b)
    if one_line(a) == a:
        assert clean_id(a) == a


def hostile_event() -> CalendarEvent:
    return CalendarEvent(
        id="id\x00one",
        room="room@example.com",
        start=START,
        end=START + timedelta(hours=1),
        ical_uid="uid\n",
        subject="Weekly\n\x0bsync\x00",
        location="Room\t1",
        body="line one\x00\nline two \ud800",
        body_html="<p>x\x01</p>",
        organizer_name="Ola\u00a0Normann",
        organizer_email=" ola@example.com\x00",
        attendees=(Attendee(email="a@example.com\x00", name="A\nB"),),
        conference=Conference(
            solution="hangouts\x00",
            id="abc",
            entry_points=(EntryPoint(type="video", uri="https://meet.google.com/abc\x00"),),
        ),
        recurring_id="series\x00",
    )


def test_every_text_of_an_event_is_cleaned() -> None:
    event = clean_event(hostile_event())
    assert event.id == clean_id("id\x00one")
    assert event.id.startswith("idone#")
    assert (event.subject, event.location) == ("Weekly sync", "Room 1")
    assert event.body == "line one\nline two \ufffd"  # lines kept for the rules
    assert event.body_html == "<p>x</p>"
    assert (event.organizer_name, event.organizer_email) == ("Ola Normann", "ola@example.com")
    assert event.attendees == (Attendee(email="a@example.com", name="A B"),)
    assert event.conference is not None
    assert event.conference.solution == "hangouts"
    assert event.conference.entry_points[0].uri == "https://meet.google.com/abc"
    assert event.recurring_id.startswith("series#")
    assert (event.start, event.end) == (START, START + timedelta(hours=1))


def test_a_clean_event_is_returned_as_is() -> None:
    event = clean_event(hostile_event())
    assert clean_event(event) is event


def unavailable(room: str, exc: Exception) -> CalendarUnavailable:
    return CalendarUnavailable(f"{room}: {exc}")


def test_the_adapter_edge_cleans_results_and_error_messages() -> None:
    def work() -> SyncResult:
        return SyncResult(full=False, events=(hostile_event(),), removed_ids=("gone\x00",))

    result = guarded_sync("room@example.com", work, map_error=unavailable)
    assert result.events == (clean_event(hostile_event()),)
    assert result.removed_ids == (clean_id("gone\x00"),)

    def failing() -> SyncResult:
        raise CalendarUnavailable("server said <html>\x00 busy")

    def crashing() -> SyncResult:
        raise ValueError("library said \x07")

    with pytest.raises(CalendarUnavailable) as raised:
        guarded_sync("room@example.com", failing, map_error=unavailable)
    assert str(raised.value) == "room@example.com: server said <html> busy"
    with pytest.raises(CalendarUnavailable) as mapped:
        guarded_sync("room@example.com", crashing, map_error=unavailable)
    assert str(mapped.value) == "room@example.com: library said "
