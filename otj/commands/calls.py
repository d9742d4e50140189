"""``otj calls``: live gateway calls grouped by external conference, and recent calls."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from otj.config.runtime import add_database_arguments, echo, positive_int

if TYPE_CHECKING:
    from otj.store.values import CallRecord


def register(subparsers: Any) -> None:
    """Add ``otj calls``."""
    parser = subparsers.add_parser(
        "calls", help="live gateway calls (grouped by meeting) and recent call records"
    )
    add_database_arguments(parser)
    parser.add_argument(
        "--limit", type=positive_int, default=20, help="recent calls to show (default 20)"
    )
    parser.add_argument("--live", action="store_true", help="live calls only")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(func=_run)


def _time(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if value else "-"


def _duration(call: CallRecord, now: datetime) -> str:
    if call.answer_at is None:
        return "-"
    seconds = int(((call.end_at or now) - call.answer_at).total_seconds())
    return f"{seconds // 60}:{seconds % 60:02d}"


def _who(call: CallRecord) -> str:
    if call.attempts > 1:  # a summary of refused calls (one source, cause and minute)
        return f"{call.attempts} calls from {call.source_address}"
    return call.endpoint_name or call.caller_name or call.caller_uri


def group_live(calls: Sequence[CallRecord]) -> dict[str, list[CallRecord]]:
    """Live calls by external conference (the Meet code); calls without one under ''."""
    groups: dict[str, list[CallRecord]] = {}
    for call in calls:
        groups.setdefault(call.conference, []).append(call)
    return groups


def render(live: Sequence[CallRecord], recent: Sequence[CallRecord], now: datetime) -> list[str]:
    """The text report."""
    lines = [f"Live calls: {len(live)}"]
    for conference, calls in sorted(group_live(live).items()):
        lines.append(f"  {conference or '(no conference)'}: {len(calls)} call(s)")
        for call in calls:
            state = (
                "in call" if call.answer_at else ("ringing" if call.ringing_at else "setting up")
            )
            lines.append(
                f"    {_who(call)} → {call.routed_alias or call.dialled_alias} "
                f"[{state}, since {_time(call.invite_at)}, {_duration(call, now)}] "
                f"via {call.target or '-'} (rule {call.rule or '-'})"
            )
    if recent:
        lines.append("")
        lines.append(f"Recent calls: {len(recent)}")
        for call in recent:
            outcome = f"{call.final_code or ''} {call.cause or 'live'}".strip()
            lines.append(
                f"  {_time(call.invite_at)}  {_who(call)} → {call.dialled_alias}  "
                f"{outcome}  {_duration(call, now)}  rule {call.rule or '-'}"
                + (f"  ({call.detail})" if call.detail and call.cause != "completed" else "")
            )
            if call.media_engine:
                lines.append(f"    {media_line(call)}")
    return lines


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


def _as_json(call: CallRecord) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in call.__dataclass_fields__:
        value = getattr(call, name)
        out[name] = value.isoformat() if isinstance(value, datetime) else value
    return out


def _run(args: argparse.Namespace) -> int:
    from otj.config.runtime import open_store

    db = open_store(args)
    try:
        live = db.calls.live()
        recent = [] if args.live else db.calls.recent(limit=args.limit)
    finally:
        db.close()
    if args.json:
        echo(
            json.dumps(
                {
                    "live": {
                        conf: [_as_json(c) for c in calls]
                        for conf, calls in group_live(live).items()
                    },
                    "recent": [_as_json(c) for c in recent],
                },
                indent=2,
            )
        )
        return 0
    for line in render(live, recent, datetime.now(UTC)):
        echo(line)
    return 0
