"""Revision 0019: meetings stored before the calendar edge cleaned their text are cleaned as the
edge would clean them, so a booking written from an old row is still well-formed XML."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from calendars.text import one_line
from otj.store import Database
from otj.store.tables.calendars import MeetingRow, RoomRow
from tests.integration.service.support import database_at

START = datetime(2026, 12, 8, 9, tzinfo=UTC)
OLD_TEXT = {
    "subject": "Weekly\n\x0bsync\t(Q4)",
    "organizer_name": "Ola\u00a0 Normann\x1b",
    "organizer_email": "ola@example.com ",
    "alias": "123\x01@vc.example.com",
    "join_url": "",
}


@pytest.fixture
def at_0018(database_url: str, tmp_path: Path) -> Iterator[Database]:
    with database_at(database_url, tmp_path, "0018") as database:
        yield database


def meeting_row(event_id: str, **text: str) -> MeetingRow:
    return MeetingRow(
        room="room@example.com",
        event_id=event_id,
        start=START,
        end=START + timedelta(hours=1),
        join_from=START,
        join_until=START + timedelta(hours=1),
        protocol="sip",
        platform="other",
        private=False,
        listed=True,
        trace=[],
        content_hash="0" * 64,
        updated_at=START,
        **text,
    )


def test_old_meeting_text_is_cleaned_and_clean_rows_are_left_alone(at_0018: Database) -> None:
    clean = {"subject": "Plain", "organizer_name": "Ana", "organizer_email": "ana@example.com"}
    with at_0018.transaction() as session:  # the meetings table is the same at 0018 and 0019
        session.add(RoomRow(room="room@example.com"))
        session.flush()
        session.add_all([meeting_row("old", **OLD_TEXT), meeting_row("clean", **clean)])
    at_0018.upgrade()
    with at_0018.transaction() as session:
        rows = {row.event_id: row for row in session.query(MeetingRow)}
        old, kept = rows["old"], rows["clean"]
        assert (old.subject, old.organizer_name) == ("Weekly sync (Q4)", "Ola Normann")
        assert (old.organizer_email, old.alias) == ("ola@example.com", "123@vc.example.com")
        for field, value in OLD_TEXT.items():
            assert getattr(old, field) == one_line(value)  # what the edge makes of it today
        assert (kept.subject, kept.organizer_name) == ("Plain", "Ana")
