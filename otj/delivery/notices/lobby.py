"""The lobby, from the room's side (pure): what a room is told when its call to a meeting ends
in the lobby (nobody admitted it: Meet's 30 s) or is refused by the host (480 "Call
rejected"), and the xAPI commands that put it on a Cisco codec's screen.

The gateway's call detail records are the only input: :func:`endpoint_for_call` is the one
place that says which endpoint (room) a record belongs to. A ``not_admitted`` ending gets
``xCommand UserInterface Message Prompt Display`` with a "Try again" option (the codec answers
``xEvent UserInterface Message Prompt Response`` with our ``FeedbackId``); a refusal gets
``xCommand UserInterface Message Alert Display`` (Cisco xAPI reference, UserInterface Message);
a Webex cloud device gets the alert through the cloud xAPI for both.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from guestjoin.cdr import CALL_REJECTED, DECLINED, NOT_ADMITTED, CallRecord
from otj.delivery.devices.xapi import command_document
from otj.model import Endpoint

#: Causes the room is told about.
NOTICE_CAUSES = frozenset({NOT_ADMITTED, CALL_REJECTED, DECLINED})
#: A call that ended longer ago than this is not announced any more (a worker that was down).
NOTICE_MAX_AGE = timedelta(seconds=60)
#: How long the room panel shows the notice, and how long "Try again" may redial.
PANEL_NOTICE_FOR = timedelta(minutes=2)
RETRY_WITHIN = timedelta(minutes=10)
#: How long the codec shows the prompt / the alert (xAPI ``Duration``, seconds; 0 = until closed).
PROMPT_SECONDS = 60
ALERT_SECONDS = 20
FEEDBACK_PREFIX = "otj-lobby-"
TRY_AGAIN = 1  # the prompt's Option.1
XAPI_TEXT_MAX = 255  # Title, Text and Option.n are String(0..255)


@dataclass(frozen=True, kw_only=True, slots=True)
class RoomNotice:
    """What a room is told about one call that ended in the lobby or was refused."""

    call: int  # the call record's id
    endpoint: str
    cause: str
    title: str
    text: str
    retry_alias: str  # what "Try again" dials; "" when no retry is offered
    ended_at: datetime

    @property
    def feedback_id(self) -> str:
        """The prompt's ``FeedbackId``: names the call record (the codec echoes it back)."""
        return f"{FEEDBACK_PREFIX}{self.call}"


def endpoint_for_call(call: CallRecord, endpoints: Iterable[Endpoint]) -> Endpoint | None:
    """The endpoint (room) a call record belongs to: the one the gateway attributed it to
    (``endpoint_name``: a registration, or a room calling from its own address); None when the
    gateway could not say (such a call is never announced to anybody)."""
    if not call.endpoint_name:
        return None
    return next((e for e in endpoints if e.name == call.endpoint_name), None)


def _seconds(amount: int) -> str:
    return "1 second" if amount == 1 else f"{amount} seconds"


def _quoted(name: str, room: int) -> str:
    return name if len(name) <= room else name[: max(0, room - 1)] + "…"


def notice_for(call: CallRecord, *, room_name: str) -> RoomNotice | None:
    """The notice for a call that ended as not admitted or refused by the host, else None."""
    if call.end_at is None or call.cause not in NOTICE_CAUSES:
        return None
    if call.cause == NOT_ADMITTED:
        waited = (call.end_at - call.answer_at).total_seconds() if call.answer_at else 30.0
        within = _seconds(max(1, round(waited)))
        head = (
            f"Nobody let you into the meeting within {within}. "
            "Try again, or ask the host to admit '"
        )
        text = head + _quoted(room_name, XAPI_TEXT_MAX - len(head) - 2) + "'."
        return RoomNotice(
            call=call.id,
            endpoint=call.endpoint_name,
            cause=call.cause,
            title="Not admitted to the meeting",
            text=text,
            retry_alias=call.dialled_alias,
            ended_at=call.end_at,
        )
    return RoomNotice(
        call=call.id,
        endpoint=call.endpoint_name,
        cause=call.cause,
        title="Call declined",
        text="The meeting host declined the call.",
        retry_alias="",
        ended_at=call.end_at,
    )


def display_command(notice: RoomNotice) -> tuple[bytes, str]:
    """The ``/putxml`` document that shows ``notice`` on a codec, and the command's name."""
    if notice.retry_alias:
        path = ["UserInterface", "Message", "Prompt", "Display"]
        params: dict[str, str | int] = {
            "Title": notice.title,
            "Text": notice.text,
            "FeedbackId": notice.feedback_id,
            "Option.1": "Try again",
            "Option.2": "Close",
            "Duration": PROMPT_SECONDS,
        }
    else:
        path = ["UserInterface", "Message", "Alert", "Display"]
        params = {"Title": notice.title, "Text": notice.text, "Duration": ALERT_SECONDS}
    return command_document(path, params), " ".join(path)


def cloud_alert(notice: RoomNotice) -> tuple[str, dict[str, str | int]]:
    """The Webex cloud xAPI command (name, arguments) that shows ``notice`` on a cloud device:
    always an alert, since a cloud device posts no HttpFeedback for a prompt's Try again."""
    arguments: dict[str, str | int] = {
        "Title": notice.title,
        "Text": notice.text,
        "Duration": PROMPT_SECONDS if notice.retry_alias else ALERT_SECONDS,
    }
    return "UserInterface.Message.Alert.Display", arguments


def call_of_feedback(feedback_id: str) -> int | None:
    """The call record id a prompt's ``FeedbackId`` names (None: not one of our prompts)."""
    number = feedback_id.removeprefix(FEEDBACK_PREFIX)
    if number == feedback_id or not number.isdigit() or len(number) > 18:
        return None
    return int(number)


def retry_refusal(call: CallRecord | None, *, endpoints: Iterable[str], now: datetime) -> str:
    """Why "Try again" may not redial this call ("" when it may): only a recent lobby ending
    of one of ``endpoints`` is redialled, so nobody can make a codec dial anything else."""
    if call is None or call.endpoint_name not in set(endpoints):
        return "no such call from this room"
    if call.cause != NOT_ADMITTED or call.end_at is None or not call.dialled_alias:
        return "this call cannot be tried again"
    if now - call.end_at > RETRY_WITHIN:
        return "this call ended too long ago; dial the meeting again"
    return ""
