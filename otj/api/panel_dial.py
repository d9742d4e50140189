"""Dialling from the room panel: which codec dials, the Join button's dial and "Try again",
and failures told in words a person at the panel understands."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

from fastapi.responses import JSONResponse

from otj.delivery.devices.bookings import booking_id
from otj.delivery.devices.cisco import CiscoDefaults, CiscoXapiClient, connection_for
from otj.delivery.devices.errors import (
    EndpointCommandFailed,
    EndpointError,
    EndpointUnauthorised,
    EndpointUnreachable,
    MissingCredentials,
)
from otj.delivery.notices.room_notices import redial
from otj.model import Endpoint, Meeting, Profile

if TYPE_CHECKING:
    from guestjoin.cdr import CallRecord
    from otj.store import Database

log = logging.getLogger(__name__)


def describe(exc: EndpointError) -> str:
    """A reason a person at the panel understands."""
    if isinstance(exc, EndpointUnreachable):
        return "the room system did not answer"
    if isinstance(exc, EndpointUnauthorised):
        return "the room system refused our credentials"
    if isinstance(exc, MissingCredentials):
        return "the room system has no API credentials configured"
    if isinstance(exc, EndpointCommandFailed):
        return str(exc).removeprefix("Dial: ")
    return "the room system gave an unexpected answer"


def codec_for_room(
    db: Database, caller: Endpoint, room: str
) -> tuple[Endpoint, Profile | None] | None:
    """The room's Cisco codec with its credentials (the caller's own endpoint first), and its
    profile (whose ``endpoint_*`` fields are the codec's API defaults)."""
    codec: Endpoint | None
    if caller.type == "CISCO" and caller.api_address:
        codec = db.config.endpoint(caller.name)
    else:
        codec = next(
            (e for e in db.config.endpoints(room=room) if e.type == "CISCO" and e.api_address),
            None,
        )
    if codec is None:
        return None
    return codec, db.config.profile_for_endpoint(codec.name, secrets="resolve")


async def dial_meeting(
    codec: Endpoint, profile: Profile | None, defaults: CiscoDefaults, meeting: Meeting, alias: str
) -> JSONResponse:
    """The codec dials the meeting's ``alias`` with its booking id (the Join button);
    ``profile``'s ``endpoint_*`` fields override the codec API ``defaults``."""
    try:
        connection = connection_for(codec, defaults.for_profile(profile) if profile else defaults)
    except MissingCredentials as exc:
        log.warning("%s: panel cannot dial: %s", codec.name, exc)
        return failed(409, describe(exc))
    try:
        async with CiscoXapiClient(connection) as client:
            outcome = await client.dial(
                number=alias,
                protocol=meeting.protocol.value,
                booking_id=booking_id(meeting.event_id),
            )
    except EndpointError as exc:
        log.warning("%s: panel dial of %s failed: %s", codec.name, alias, exc)
        return failed(502, describe(exc))
    log.info("%s: panel dialled %s (call %d)", codec.name, alias, outcome.call_id)
    return JSONResponse({"status": "dialling", "callId": outcome.call_id, "reason": ""})


async def redial_call(
    codec: Endpoint,
    profile: Profile | None,
    defaults: CiscoDefaults,
    record: CallRecord | None,
    *,
    call: int,
    endpoints: list[str],
    now: datetime,
) -> JSONResponse:
    """The codec dials the meeting of call ``call`` again ("Try again", ``redial``)."""
    try:
        connection = connection_for(codec, defaults.for_profile(profile) if profile else defaults)
        async with CiscoXapiClient(connection) as client:
            outcome = await redial(client, record, endpoints=endpoints, now=now)
    except EndpointError as exc:
        log.warning("%s: panel Try again failed: %s", codec.name, exc)
        return failed(502, describe(exc))
    if isinstance(outcome, str):
        return failed(409, outcome)
    log.info("%s: panel Try again: dialling call %d again", codec.name, call)
    return JSONResponse({"status": "dialling", "callId": outcome.call_id, "reason": ""})


def failed(status: int, reason: str) -> JSONResponse:
    """The answer to a dial or Try again that did not happen, with a reason for a person."""
    return JSONResponse({"status": "failed", "reason": reason, "callId": None}, status_code=status)
