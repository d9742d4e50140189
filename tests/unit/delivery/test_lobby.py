"""What a room is told when its call ends in the lobby or is refused
(otj.delivery.notices.lobby), the xAPI documents that show it, and the Prompt Response events
that come back."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from defusedxml.ElementTree import fromstring

from guestjoin.cdr import CallRecord
from otj.delivery.devices.xapi import PromptResponse, parse_feedback
from otj.delivery.notices.lobby import (
    call_of_feedback,
    display_command,
    endpoint_for_call,
    notice_for,
    retry_refusal,
)
from otj.demo.codec.screen import Screen, ScreenRejected, response_event
from otj.model import Endpoint

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
FJORD = Endpoint(name="Oslo Fjord", group="Rooms", room_resource_email="fjord@rooms.example.com")
LOBBY = CallRecord(
    id=42,
    call_id="c1@10.0.0.5",
    direction="inbound",
    caller_uri="sip:fjord@rooms.example.com",
    endpoint_name="Oslo Fjord",
    dialled_alias="abc-defg-hij@google.pexip.me",
    invite_at=T0,
    answer_at=T0 + timedelta(seconds=1),
    end_at=T0 + timedelta(seconds=31),
    final_code=200,
    cause="not_admitted",
)
REJECTED = replace(LOBBY, answer_at=None, final_code=480, cause="call_rejected")


def test_the_room_of_a_call_is_the_endpoint_the_gateway_attributed_it_to() -> None:
    other = replace(FJORD, name="Bergen Bay")
    assert endpoint_for_call(LOBBY, [other, FJORD]) == FJORD
    assert endpoint_for_call(replace(LOBBY, endpoint_name=""), [FJORD]) is None
    assert endpoint_for_call(replace(LOBBY, endpoint_name="Gone"), [FJORD]) is None


def test_not_admitted_says_how_long_and_whom_to_admit_and_offers_try_again() -> None:
    notice = notice_for(LOBBY, room_name="Oslo Fjord")
    assert notice is not None
    assert notice.text == (
        "Nobody let you into the meeting within 30 seconds. "
        "Try again, or ask the host to admit 'Oslo Fjord'."
    )
    assert notice.retry_alias == "abc-defg-hij@google.pexip.me"
    assert notice.feedback_id == "otj-lobby-42"
    long_name = notice_for(LOBBY, room_name="Fjord " * 100)
    assert long_name is not None
    assert len(long_name.text) <= 255
    assert long_name.text.endswith("…'.")


def test_a_refusal_says_the_host_declined_and_offers_nothing_to_retry() -> None:
    notice = notice_for(REJECTED, room_name="Oslo Fjord")
    assert notice is not None
    assert (notice.title, notice.text) == ("Call declined", "The meeting host declined the call.")
    assert notice.retry_alias == ""
    declined = notice_for(replace(REJECTED, cause="declined", final_code=603), room_name="x")
    assert declined is not None
    assert declined.text == "The meeting host declined the call."


@pytest.mark.parametrize(
    "call",
    [
        replace(LOBBY, cause="completed"),
        replace(LOBBY, cause="busy"),
        replace(LOBBY, end_at=None, cause=""),
    ],
)
def test_other_endings_tell_nothing(call: CallRecord) -> None:
    assert notice_for(call, room_name="Oslo Fjord") is None


def test_the_prompt_and_alert_documents_pass_the_codecs_checks() -> None:
    screen = Screen()
    for call in (LOBBY, REJECTED):
        notice = notice_for(call, room_name="Oslo Fjord")
        assert notice is not None
        document, name = display_command(notice)
        root = fromstring(document)
        command = root[0][0][0][0]
        params = {child.tag: [child.text or ""] for child in command}
        assert tuple(name.split()) == ("UserInterface", "Message", root[0][0][0].tag, command.tag)
        screen.handle(tuple(name.split()), params, 0.0)
    assert screen.prompt is not None
    assert screen.prompt.options == {1: "Try again", 2: "Close"}
    assert (screen.prompt.duration, screen.prompt.feedback_id) == (60, "otj-lobby-42")
    assert screen.alert is not None
    assert screen.alert.text == "The meeting host declined the call."
    with pytest.raises(ScreenRejected, match="Missing required parameter Text"):
        screen.handle(("UserInterface", "Message", "Alert", "Display"), {"Title": ["x"]}, 0.0)
    with pytest.raises(ScreenRejected, match="Duration"):
        screen.handle(
            ("UserInterface", "Message", "Alert", "Display"),
            {"Text": ["x"], "Duration": ["3601"]},
            0.0,
        )
    with pytest.raises(ScreenRejected, match=r"Unknown parameter Option\.6"):
        screen.handle(
            ("UserInterface", "Message", "Prompt", "Display"),
            {"Text": ["x"], "Option.6": ["no"]},
            0.0,
        )


def test_prompt_responses_are_read_from_xml_and_json_feedback() -> None:
    from xml.etree.ElementTree import Element, tostring

    xml = tostring(response_event(Element("Identification"), "otj-lobby-42", 1))
    assert parse_feedback(xml).prompt_responses == (
        PromptResponse(feedback_id="otj-lobby-42", option_id=1),
    )
    json_body = (
        b'{"Event": {"UserInterface": {"Message": {"Prompt": {"Response": '
        b'{"FeedbackId": {"Value": "otj-lobby-7"}, "OptionId": {"Value": 2}}}}}}}'
    )
    event = parse_feedback(json_body, content_type="application/json")
    assert event.prompt_responses == (PromptResponse(feedback_id="otj-lobby-7", option_id=2),)
    assert event.booking_events == ()
    bad = b"<Event><UserInterface><Message><Prompt><Response><FeedbackId>x</FeedbackId>"
    bad += b"<OptionId>one</OptionId></Response></Prompt></Message></UserInterface></Event>"
    assert parse_feedback(bad).prompt_responses == ()


def test_feedback_ids_name_only_our_prompts() -> None:
    assert call_of_feedback("otj-lobby-42") == 42
    for other in ("42", "otj-lobby-", "otj-lobby-4x", "other-42", "otj-lobby-" + "9" * 30):
        assert call_of_feedback(other) is None


def test_try_again_only_redials_a_recent_lobby_ending_of_the_room() -> None:
    now = LOBBY.end_at + timedelta(minutes=1)  # type: ignore[operator]
    assert retry_refusal(LOBBY, endpoints=["Oslo Fjord"], now=now) == ""
    assert retry_refusal(None, endpoints=["Oslo Fjord"], now=now) == "no such call from this room"
    assert retry_refusal(LOBBY, endpoints=["Bergen Bay"], now=now) == (
        "no such call from this room"
    )
    assert retry_refusal(REJECTED, endpoints=["Oslo Fjord"], now=now) == (
        "this call cannot be tried again"
    )
    late = now + timedelta(minutes=10)
    assert "too long ago" in retry_refusal(LOBBY, endpoints=["Oslo Fjord"], now=late)
