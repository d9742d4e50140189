"""The landing page: demo rooms with their aliases only in the demo; markup escaped."""

from datetime import UTC, datetime, timedelta

from otj.api.home import render_home
from otj.model import CallProtocol, Meeting, Platform

START = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


def meeting(subject: str, alias: str | None) -> Meeting:
    return Meeting(
        room="fjord@demo.example",
        event_id="e1",
        subject=subject,
        organizer_name="Ana",
        organizer_email="ana@example.com",
        start=START,
        end=START + timedelta(hours=1),
        join_from=START - timedelta(minutes=5),
        join_until=START + timedelta(hours=1),
        alias=alias,
        protocol=CallProtocol.SIP,
        platform=Platform.GOOGLE_MEET,
        rule="Google Meet SIP Guest Join",
    )


def test_demo_page_lists_rooms_meetings_and_codecs() -> None:
    page = render_home(
        rooms=[
            (
                "fjord@demo.example",
                [meeting("<Board> & co", "abc-defg-hij@google.pexip.me"), meeting("Lunch", None)],
            ),
            ("empty@demo.example", []),
        ],
        codecs=[("fjord@demo.example", "http://127.0.0.1:4000")],
        demo=True,
    )
    assert "abc-defg-hij@google.pexip.me" in page
    assert "&lt;Board&gt; &amp; co" in page
    assert "<Board>" not in page
    assert 'href="http://127.0.0.1:4000/"' in page
    assert "no meetings read yet" in page


def test_outside_the_demo_no_room_data_is_shown() -> None:
    page = render_home(
        rooms=[("fjord@demo.example", [meeting("Secret", "x@y")])], codecs=[], demo=False
    )
    assert "Secret" not in page
    assert "fjord" not in page
    assert "/docs" in page
