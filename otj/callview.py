"""How a gateway call detail record is shown to administrators (pure): its state, duration,
JSON object and CSV row, and live calls grouped by external conference.

One place for the HTTP API (``GET /api/v1/calls``, ``/api/v1/calls/live``) and ``otj calls``,
so both say the same thing about a call.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from guestjoin.cdr import CallRecord

#: The columns of a CSV export, in order (one per JSON field, times in ISO 8601 UTC).
CSV_COLUMNS: tuple[str, ...] = (
    "id",
    "call_id",
    "state",
    "room",
    "caller_uri",
    "caller_name",
    "source_address",
    "transport",
    "dialled_alias",
    "routed_alias",
    "conference",
    "rule",
    "target",
    "invite_at",
    "ringing_at",
    "answer_at",
    "end_at",
    "duration_seconds",
    "final_code",
    "cause",
    "detail",
    "attempts",
    "attribution",
    "reception",
    "digits_outcome",
    "transfer_method",
    "media_engine",
    "media_room_packets",
    "media_room_bytes",
    "media_room_lost",
    "media_far_packets",
    "media_far_bytes",
    "media_far_lost",
)


def call_state(call: CallRecord) -> str:
    """``setting up``, ``ringing``, ``in call`` (live) or ``ended``."""
    if call.end_at is not None:
        return "ended"
    if call.answer_at is not None:
        return "in call"
    return "ringing" if call.ringing_at is not None else "setting up"


def duration_seconds(call: CallRecord, now: datetime) -> int | None:
    """Seconds from answer to end (to ``now`` while live); None when never answered."""
    if call.answer_at is None:
        return None
    return max(0, int(((call.end_at or now) - call.answer_at).total_seconds()))


def room_of(call: CallRecord) -> str:
    """Who called, as an administrator knows it: the endpoint, else the caller."""
    if call.attempts > 1:  # a summary of refused calls (one source, cause and minute)
        return f"{call.attempts} calls from {call.source_address}"
    return call.endpoint_name or call.caller_name or call.caller_uri


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def call_json(call: CallRecord, now: datetime) -> dict[str, Any]:
    """A call as a JSON object (the ``CallOut`` of the API, the rows of ``otj calls --json``)."""
    return {
        "id": call.id,
        "call_id": call.call_id,
        "state": call_state(call),
        "room": call.endpoint_name,
        "caller_uri": call.caller_uri,
        "caller_name": call.caller_name,
        "source_address": call.source_address,
        "transport": call.transport,
        "dialled_alias": call.dialled_alias,
        "routed_alias": call.routed_alias,
        "conference": call.conference,
        "rule": call.rule,
        "target": call.target,
        "invite_at": _iso(call.invite_at),
        "ringing_at": _iso(call.ringing_at),
        "answer_at": _iso(call.answer_at),
        "end_at": _iso(call.end_at),
        "duration_seconds": duration_seconds(call, now),
        "final_code": call.final_code,
        "cause": call.cause,
        "detail": call.detail,
        "attempts": call.attempts,
        "attribution": call.attribution,
        "reception": call.reception,
        "digits_outcome": call.digits_outcome,
        "transfer_method": call.transfer_method,
        "media_engine": call.media_engine,
        "media_room_packets": call.media_room_packets,
        "media_room_bytes": call.media_room_bytes,
        "media_room_lost": call.media_room_lost,
        "media_far_packets": call.media_far_packets,
        "media_far_bytes": call.media_far_bytes,
        "media_far_lost": call.media_far_lost,
    }


def _cell(value: object) -> str:
    """A CSV cell; text a spreadsheet would run as a formula is quoted with ``'`` (OWASP CSV
    injection): caller names and URIs come from the network."""
    text = "" if value is None else str(value)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text


def to_csv(calls: Iterable[CallRecord], now: datetime) -> str:
    """Calls as CSV (RFC 4180: a header line, CRLF line ends)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for call in calls:
        row = call_json(call, now)
        writer.writerow([_cell(row[name]) for name in CSV_COLUMNS])
    return out.getvalue()


def group_live(calls: Sequence[CallRecord]) -> dict[str, list[CallRecord]]:
    """Live calls by external conference (the Meet code); calls without one under ''."""
    groups: dict[str, list[CallRecord]] = {}
    for call in calls:
        groups.setdefault(call.conference, []).append(call)
    return groups
