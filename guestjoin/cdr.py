"""Call detail records: ``CallRecord``, the one model of a call (the proxy keeps it up to date,
the store's ``calls`` table keeps it, the API, CLI and CSV export show it), the recorder
interface, and the summary that keeps a flood of refused calls from becoming a flood of records."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Protocol

log = logging.getLogger(__name__)

# Disconnect causes (the ``cause`` column).
COMPLETED = "completed"
NOT_ADMITTED = "not_admitted"  # the far end ended the call while the guest waited in the lobby
CALL_REJECTED = "call_rejected"  # 480 Temporarily Unavailable ("Call rejected")
DECLINED = "declined"  # 603
BUSY = "busy"  # 486/600
NOT_FOUND = "not_found"  # 404/604 from the far end
NO_ROUTE = "no_route"  # no call routing rule matched: 404 from us
DNS_FAILURE = "dns_failure"
LICENCE_LIMIT = "licence_limit"
CANCELLED = "cancelled"
TIMEOUT = "timeout"
UNAVAILABLE = "unavailable"  # every target failed or answered 503
FORBIDDEN = "forbidden"  # source address not allowed, loop or relay attempt
FAILED = "failed"
EXPIRED = "expired"  # no BYE seen within the maximum call duration
NO_ACK = "no_ack"  # the caller never ACKed the 2xx (RFC 3261 §13.3.1.4): BYE sent downstream
SOURCE_LIMIT = "source_limit"  # the source already had gateway.max_calls_per_source calls
TRANSFERRED = "transferred"  # a Virtual Reception handed the caller on (REFER or 3pcc)
RECEPTION_GAVE_UP = "reception_gave_up"  # invalid input or silence ``attempts`` times
MEDIA_UNAVAILABLE = "media_unavailable"  # media: relay and no rtpengine answered
MEDIA_ENCRYPTION_REFUSED = "media_encryption_refused"  # required SRTP refused by the far end

_BY_CODE = {
    480: CALL_REJECTED,
    486: BUSY,
    600: BUSY,
    603: DECLINED,
    404: NOT_FOUND,
    604: NOT_FOUND,
    487: CANCELLED,
    408: TIMEOUT,
    503: UNAVAILABLE,
    500: UNAVAILABLE,
}


def cause_for(code: int) -> str:
    """The cause recorded for a final failure response code."""
    return _BY_CODE.get(code, FAILED)


SUMMARY_PREFIX = "summary:"


def utc(epoch: float) -> datetime:
    """Epoch seconds as an aware UTC datetime."""
    return datetime.fromtimestamp(epoch, tz=UTC)


@dataclass(frozen=True, kw_only=True, slots=True)
class CallRecord:
    """One call's detail record: the proxy keeps it up to date by ``key`` while the call lasts,
    the store's ``calls`` table keeps it by ``id`` (every other field is a column)."""

    key: str = ""  # the gateway's handle on the call ("" when read back from the store)
    id: int = 0  # the store's row id (0 until stored)
    call_id: str
    direction: str = "inbound"
    caller_uri: str = ""
    caller_name: str = ""
    endpoint_name: str = ""
    source_address: str = ""
    transport: str = ""
    dialled_alias: str = ""
    routed_alias: str = ""
    rule: str = ""
    target: str = ""
    conference: str = ""
    invite_at: datetime
    ringing_at: datetime | None = None
    answer_at: datetime | None = None
    end_at: datetime | None = None
    final_code: int | None = None
    cause: str = ""
    detail: str = ""
    attempts: int = 1  # above one: a summary of refused calls (see RejectionSummary)
    attribution: str = ""  # how the caller was attributed to endpoint_name (guestjoin.attribution)
    room_notified_at: datetime | None = None  # when the room was told why the call ended
    reception: str = ""  # the Virtual Reception that answered the call
    digits_outcome: str = ""  # calendar_join | id | invalid | timeout (reception.Outcome)
    transfer_method: str = ""  # refer | 3pcc
    media_engine: str = ""  # the rtpengine of a relayed call ("" = direct media)
    media_room_packets: int = 0  # received from the room (rtpengine's delete answer)
    media_room_bytes: int = 0
    media_room_lost: int = 0
    media_far_packets: int = 0  # received from the far end
    media_far_bytes: int = 0
    media_far_lost: int = 0

    @property
    def live(self) -> bool:
        """Still going (no end time yet)."""
        return self.end_at is None

    @property
    def is_summary(self) -> bool:
        """A record standing for several refused calls."""
        return self.key.startswith(SUMMARY_PREFIX)


class CallRecorder(Protocol):
    """Receives every change of a call record; must not block the event loop."""

    def record(self, call: CallRecord) -> None:
        """Store the latest state of ``call`` (upsert by ``key``)."""


class MemoryRecorder:
    """Keeps records in memory (tests, and the embedded gateway's status page)."""

    def __init__(self, keep: int = 1000) -> None:
        self.calls: dict[str, CallRecord] = {}
        self.history: list[CallRecord] = []
        self.keep = keep
        self.listeners: list[Callable[[CallRecord], None]] = []
        self._ended: deque[str] = deque()

    def record(self, call: CallRecord) -> None:
        """Upsert and notify listeners; the oldest ended calls are forgotten beyond ``keep``."""
        self.calls[call.key] = call
        self.history.append(call)
        if len(self.history) > self.keep * 10:
            del self.history[: self.keep * 5]
        if call.end_at is not None:
            self._ended.append(call.key)
            while len(self._ended) > self.keep:
                self.calls.pop(self._ended.popleft(), None)
        for listener in list(self.listeners):
            listener(call)

    def live(self) -> list[CallRecord]:
        """Live calls."""
        return [c for c in self.calls.values() if c.live]


def conference_of(alias: str) -> str:
    """The external conference a routed alias belongs to (the Meet code of ``code[.cid]@…``)."""
    user = alias.partition("@")[0] if "@" in alias else ""
    return user.partition(".")[0]


#: Causes of calls refused before anything was forwarded or recorded (floods are summarised).
REFUSED_CAUSES = frozenset({NO_ROUTE, FORBIDDEN, LICENCE_LIMIT, SOURCE_LIMIT})


def refused(call: CallRecord) -> bool:
    """Refused by us at once: never forwarded, never recorded live."""
    return (
        call.cause in REFUSED_CAUSES
        and call.end_at is not None
        and not call.target
        and call.answer_at is None
    )


def _source_ip(address: str) -> str:
    host = address.rpartition(":")[0] if address.count(":") == 1 or "]:" in address else address
    return host.strip("[]") or "?"


class RejectionSummary:
    """Folds floods of refused calls into one record per source, cause and minute (pure).

    The first ``individual`` refused calls of a source, cause and minute pass unchanged; the
    rest become one summary record (key ``summary:…``) whose ``attempts`` counts them, updated
    in place. Beyond ``max_sources`` sources in a minute (forged addresses), the rest share a
    summary per cause with source ``*``. Time comes from the records themselves.
    """

    def __init__(self, *, individual: int = 3, max_sources: int = 1000) -> None:
        self.individual = individual
        self.max_sources = max_sources
        self._minute: datetime | None = None
        self._counts: dict[tuple[str, str], int] = {}
        self._summaries: dict[tuple[str, str], CallRecord] = {}

    def filter(self, call: CallRecord) -> CallRecord:
        """The record to store for ``call``: itself, or the updated summary it joins."""
        if not refused(call):
            return call
        minute = call.invite_at.replace(second=0, microsecond=0)
        if self._minute is None or minute > self._minute:
            self._minute = minute
            self._counts.clear()
            self._summaries.clear()
        elif minute < self._minute:
            minute = self._minute  # late: counted with the current minute
        source = _source_ip(call.source_address)
        bucket = (source, call.cause)
        if bucket not in self._counts and len(self._counts) >= self.max_sources:
            source, bucket = "*", ("*", call.cause)
        seen = self._counts.get(bucket, 0) + 1
        self._counts[bucket] = seen
        if seen <= self.individual:
            return call
        summary = self._summaries.get(bucket)
        if summary is None:
            summary = replace(
                call,
                key=f"{SUMMARY_PREFIX}{minute.isoformat()}:{source}:{call.cause}",
                call_id="",
                source_address=source,
                attempts=0,
            )
        attempts = summary.attempts + 1
        summary = replace(
            summary,
            caller_uri=call.caller_uri,
            dialled_alias=call.dialled_alias,
            end_at=call.end_at,
            final_code=call.final_code,
            attempts=attempts,
            detail=f"{attempts} more refused from {source} this minute; latest: {call.detail}"[
                :500
            ],
        )
        self._summaries[bucket] = summary
        return summary
