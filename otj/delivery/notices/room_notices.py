"""Telling rooms how their calls ended (the I/O around :mod:`otj.delivery.notices.lobby`).

The worker asks :func:`claim_notices` every ``NOTICE_EVERY`` seconds for call records that
ended in the lobby or were refused since the last look and that no process has announced yet
(the claim is a conditional update of the record: with several workers exactly one tells the
room), then :func:`show_notice` puts each on its room's Cisco codec. "Try again" on the codec
(HttpFeedback ``UserInterface Message Prompt Response``) or on the room panel ends in
:func:`redial`. The gateway is not involved: it only writes its call records.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from guestjoin.cdr import CallRecord
from otj.delivery.devices.xapi import DialOutcome
from otj.delivery.notices.lobby import (
    NOTICE_CAUSES,
    NOTICE_MAX_AGE,
    PANEL_NOTICE_FOR,
    RoomNotice,
    display_command,
    endpoint_for_call,
    notice_for,
    retry_refusal,
)
from otj.model import Endpoint

if TYPE_CHECKING:
    from otj.store import Database

log = logging.getLogger(__name__)

#: Seconds between two looks at the call records (the worker's ``room-notices`` job).
NOTICE_EVERY = 1.0


class MessageClient(Protocol):
    """What showing a notice and redialling need of a codec client (``CiscoXapiClient``)."""

    async def command(self, document: bytes, *, name: str) -> bytes: ...

    async def dial(self, *, number: str, protocol: str, booking_id: str = "") -> DialOutcome: ...


def shows_messages(endpoint: Endpoint) -> bool:
    """Whether otj can put a message on this endpoint's screen: a Cisco codec's local xAPI, or
    a Webex cloud device's through the cloud xAPI."""
    if endpoint.type == "WEBEX":
        return bool(endpoint.webex_device_id)
    return endpoint.type == "CISCO" and bool(endpoint.api_address)


def claim_notices(
    db: Database, endpoints: Sequence[Endpoint], *, now: datetime
) -> list[tuple[Endpoint, RoomNotice]]:
    """The notices this process is to show now (each call record is claimed once)."""
    records = db.calls.ended_unnoticed(causes=NOTICE_CAUSES, since=now - NOTICE_MAX_AGE)
    claimed: list[tuple[Endpoint, RoomNotice]] = []
    for record in records:
        if not db.calls.claim_notice(record.id, now=now):
            continue  # another worker has it
        endpoint = endpoint_for_call(record, endpoints)
        notice = notice_for(record, room_name=endpoint.name) if endpoint else None
        if endpoint is None or notice is None or not shows_messages(endpoint):
            log.debug(
                "%s: call %s ended %s: no screen to tell",
                record.endpoint_name,
                record.call_id,
                record.cause,
            )
            continue
        claimed.append((endpoint, notice))
    return claimed


async def show_notice(client: MessageClient, notice: RoomNotice) -> None:
    """Put the notice on the codec's screen (Prompt with "Try again", or Alert)."""
    document, name = display_command(notice)
    await client.command(document, name=name)


async def redial(
    client: MessageClient, record: CallRecord | None, *, endpoints: Sequence[str], now: datetime
) -> DialOutcome | str:
    """Dial again what a lobby ending dialled; the refusal as text when it may not."""
    refusal = retry_refusal(record, endpoints=endpoints, now=now)
    if refusal or record is None:
        return refusal or "no such call"
    return await client.dial(number=record.dialled_alias, protocol="SIP")


def panel_notice(
    db: Database, endpoints: Sequence[Endpoint], *, now: datetime
) -> dict[str, object] | None:
    """The room panel's ``notice``: how the room's latest call (of any of its ``endpoints``)
    ended, when it ended in the lobby or was refused no longer than ``PANEL_NOTICE_FOR`` ago."""
    if not endpoints:
        return None
    latest = db.calls.search(
        limit=1, since=now - PANEL_NOTICE_FOR, endpoints=[e.name for e in endpoints]
    )
    endpoint = endpoint_for_call(latest[0], endpoints) if latest else None
    notice = notice_for(latest[0], room_name=endpoint.name) if endpoint else None
    if notice is None or now - notice.ended_at > PANEL_NOTICE_FOR:
        return None
    return {
        "call": notice.call,
        "cause": notice.cause,
        "title": notice.title,
        "text": notice.text,
        "retry": bool(notice.retry_alias),
    }
