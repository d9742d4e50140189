"""``otj calls``: live gateway calls grouped by external conference, and recent calls.

The same records and fields as ``GET /api/v1/calls/live`` and ``GET /api/v1/calls``
(:mod:`otj.callview`): ``--json`` prints the API's objects, ``--csv`` its CSV export.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from otj.callview import call_json, call_state, duration_seconds, group_live, room_of, to_csv
from otj.commands.runtime import add_database_arguments, echo, positive_int

if TYPE_CHECKING:
    from guestjoin.cdr import CallRecord

__all__ = ["group_live", "register", "render"]


def register(subparsers: Any) -> None:
    """Add ``otj calls``."""
    parser = subparsers.add_parser(
        "calls", help="live gateway calls (grouped by meeting) and recent call records"
    )
    add_database_arguments(parser)
    parser.add_argument(
        "--limit", type=positive_int, default=20, help="recent calls to show (default 20)"
    )
    parser.add_argument(
        "--since",
        type=_since,
        help="recent calls started at or after this time (ISO 8601, UTC when bare)",
    )
    parser.add_argument(
        "--room", default="", help="recent calls of one room (resource email) or endpoint"
    )
    parser.add_argument("--live", action="store_true", help="live calls only")
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="machine-readable output")
    output.add_argument("--csv", action="store_true", help="the calls as CSV (as the API)")
    parser.set_defaults(func=_run)


def _since(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a time such as 2026-12-07T09:00:00Z, got {text!r}"
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _time(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if value else "-"


def _duration(call: CallRecord, now: datetime) -> str:
    seconds = duration_seconds(call, now)
    if seconds is None:
        return "-"
    return f"{seconds // 60}:{seconds % 60:02d}"


def _reception(call: CallRecord) -> str:
    """`` reception Join: id → refer`` for calls a Virtual Reception answered."""
    if not call.reception:
        return ""
    steps = " → ".join(s for s in (call.digits_outcome, call.transfer_method) if s)
    return f"  reception {call.reception}" + (f": {steps}" if steps else "")


def render(live: Sequence[CallRecord], recent: Sequence[CallRecord], now: datetime) -> list[str]:
    """The text report."""
    lines = [f"Live calls: {len(live)}"]
    for conference, calls in sorted(group_live(live).items()):
        lines.append(f"  {conference or '(no conference)'}: {len(calls)} call(s)")
        lines.extend(
            f"    {room_of(call)} → {call.routed_alias or call.dialled_alias} "
            f"[{call_state(call)}, since {_time(call.invite_at)}, {_duration(call, now)}] "
            f"via {call.target or '-'} (rule {call.rule or '-'})" + _reception(call)
            for call in calls
        )
    if recent:
        lines.append("")
        lines.append(f"Recent calls: {len(recent)}")
        for call in recent:
            outcome = f"{call.final_code or ''} {call.cause or 'live'}".strip()
            lines.append(
                f"  {_time(call.invite_at)}  {room_of(call)} → {call.dialled_alias}  "
                f"{outcome}  {_duration(call, now)}  rule {call.rule or '-'}"
                + _reception(call)
                + (f"  ({call.detail})" if call.detail and call.cause != "completed" else "")
            )
            if call.media_engine:
                lines.append(f"    {media_line(call)}")
    return lines


def live_json(live: Sequence[CallRecord], now: datetime) -> dict[str, Any]:
    """Live calls as ``GET /api/v1/calls/live`` answers them."""
    return {
        "total": len(live),
        "conferences": [
            {"conference": conference, "calls": [call_json(c, now) for c in calls]}
            for conference, calls in sorted(group_live(live).items())
        ],
    }


def media_line(call: CallRecord) -> str:
    """A relayed call's media figures (what rtpengine received from each side)."""

    def side(packets: int, octets: int, lost: int) -> str:
        return f"{packets} packets, {octets / 1000:.1f} kB, {lost} lost"

    return (
        f"media relayed by {call.media_engine}: from the room "
        f"{side(call.media_room_packets, call.media_room_bytes, call.media_room_lost)}; "
        f"from the far end "
        f"{side(call.media_far_packets, call.media_far_bytes, call.media_far_lost)}"
    )


def _run(args: argparse.Namespace) -> int:
    from otj.api.calls import endpoints_of
    from otj.commands.runtime import open_store

    db = open_store(args)
    try:
        live = db.calls.live()
        recent = (
            []
            if args.live
            else db.calls.search(
                limit=args.limit,
                since=args.since,
                endpoints=endpoints_of(db, args.room) if args.room else None,
            )
        )
    finally:
        db.close()
    now = datetime.now(UTC)
    if args.csv:
        sys.stdout.write(to_csv(live if args.live else recent, now))  # as the API sends it
        sys.stdout.flush()
        return 0
    if args.json:
        document = {"live": live_json(live, now), "recent": [call_json(c, now) for c in recent]}
        echo(json.dumps(document, indent=2, ensure_ascii=False))
        return 0
    for line in render(live, recent, now):
        echo(line)
    return 0
