"""``otj status rooms | meetings --room EMAIL [--trace] | alarms`` (Pexip mjx_* status)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from otj.commands.runtime import add_database_arguments, echo

if TYPE_CHECKING:
    from otj.store import Database


def register(subparsers: Any) -> None:
    """Add ``otj status``."""
    parser = subparsers.add_parser("status", help="rooms, their meetings and alarms")
    sub = parser.add_subparsers(dest="status_command", metavar="WHAT", required=True)
    rooms = sub.add_parser("rooms", help="each room: endpoints, last poll, meetings, last error")
    rooms.add_argument("--json", action="store_true", help="JSON instead of a table")
    add_database_arguments(rooms)
    rooms.set_defaults(func=_rooms)
    meetings = sub.add_parser("meetings", help="a room's meetings as its endpoint shows them")
    meetings.add_argument(
        "--room",
        required=True,
        metavar="ROOM",
        help="the room's address, or the name of one of its endpoints (case-insensitive), "
        "or the part of its address before @",
    )
    meetings.add_argument("--trace", action="store_true", help="each rule's outcome")
    meetings.add_argument("--all", action="store_true", help="also meetings not shown")
    meetings.add_argument("--json", action="store_true", help="JSON instead of a table")
    add_database_arguments(meetings)
    meetings.set_defaults(func=_meetings)
    alarms = sub.add_parser("alarms", help="active alarms")
    alarms.add_argument("--json", action="store_true")
    add_database_arguments(alarms)
    alarms.set_defaults(func=_alarms)


def _when(value: datetime | None, now: datetime) -> str:
    if value is None:
        return "-"
    seconds = int((now - value).total_seconds())
    if abs(seconds) < 90:
        return f"{seconds}s ago" if seconds >= 0 else f"in {-seconds}s"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain-text table with columns as wide as their content."""
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    return "\n".join(lines)


def _dump(items: Sequence[Any]) -> str:
    return json.dumps([i.model_dump(mode="json") for i in items], indent=2, ensure_ascii=False)


def _rooms(args: argparse.Namespace) -> int:
    from otj.api.status import room_out
    from otj.commands.runtime import open_store
    from otj.worker.intervals import room_intervals

    now = datetime.now(UTC)
    db = open_store(args)
    try:
        rooms = [room_out(s) for s in db.rooms.status()]
        intervals = room_intervals(db, now=now)
    finally:
        db.close()
    if args.json:
        out = []
        for r in rooms:
            item = r.model_dump(mode="json")
            if r.room in intervals:
                item["poll_interval"] = intervals[r.room].seconds
                item["poll_interval_reason"] = intervals[r.room].reason
            out.append(item)
        echo(json.dumps(out, indent=2, ensure_ascii=False))
        return 0
    rows = [
        [
            r.room,
            ", ".join(r.endpoints),
            _when(r.last_poll, now),
            f"{intervals[r.room].seconds:.0f} s" if r.room in intervals else "-",
            str(r.meetings),
            "pending" if r.delivery_pending else "-",
            f"{r.last_error_kind or 'error'} (below)" if r.last_error else "-",
            intervals[r.room].reason if r.room in intervals else "-",
        ]
        for r in rooms
    ]
    headers = ["ROOM", "ENDPOINTS", "LAST POLL", "POLL EVERY", "MEETINGS", "DELIVERY"]
    echo(table([*headers, "LAST ERROR", "WHY THAT INTERVAL"], rows))
    errors = [r for r in rooms if r.last_error]
    if errors:
        echo("")
    for r in errors:  # whole, never cut: it is what the administrator acts on
        echo(f"{r.room}: {r.last_error_kind or 'error'}: {r.last_error}")
    return 0


def resolve_room(db: Database, given: str) -> tuple[str | None, dict[str, list[str]]]:
    """The room ``given`` names (address, endpoint name or address before @), and every
    known room with its endpoints' names."""
    endpoints = db.config.snapshot(secrets="sealed").endpoints  # no secret is opened
    known: dict[str, list[str]] = {room: [] for room in sorted(db.rooms.names())}
    for endpoint in endpoints:
        known.setdefault(endpoint.room_resource_email.lower(), []).append(endpoint.name)
    wanted = given.strip().casefold()
    if wanted in known:
        return wanted, known
    matches = {
        room
        for room, names in known.items()
        if wanted in {n.casefold() for n in names} or room.split("@", 1)[0] == wanted
    }
    return (matches.pop() if len(matches) == 1 else None), known


def _meetings(args: argparse.Namespace) -> int:
    from otj.api.status import room_meetings
    from otj.commands.runtime import open_store

    db = open_store(args)
    try:
        room, known = resolve_room(db, args.room)
        meetings = (
            room_meetings(
                db, room, now=datetime.now(UTC), include_unlisted=args.all, trace=args.trace
            )
            if room
            else None
        )
    finally:
        db.close()
    if meetings is None:
        echo(f"error: no room {args.room!r}", err=True)
        if known:
            echo("known rooms (address: endpoint names):", err=True)
            for address, names in known.items():
                echo(f"  {address}: {', '.join(names) or '-'}", err=True)
        else:
            echo("no rooms yet: apply a configuration (otj config apply FILE)", err=True)
        return 1
    if args.json:
        echo(_dump(meetings))
        return 0
    rows = [
        [
            m.start.strftime("%a %d %b %H:%M"),
            m.end.strftime("%H:%M"),
            m.subject[:40],
            m.alias or "(no Join)",
            m.rule or "-",
            "" if m.listed else f"not shown: {m.unlisted_reason}",
        ]
        for m in meetings
    ]
    echo(table(["START (UTC)", "END", "SUBJECT", "ALIAS", "RULE", ""], rows))
    if args.trace:
        for m in meetings:
            echo(f"\n{m.start:%Y-%m-%d %H:%M} {m.subject}  [{m.event_id}]")
            for step in m.trace or []:
                detail = f": {step.detail}" if step.detail else ""
                echo(f"  {step.rule or '(fallback)'} ({step.meeting_type}) {step.outcome}{detail}")
    return 0


def _alarms(args: argparse.Namespace) -> int:
    from otj.api.status import alarm_out
    from otj.commands.runtime import open_store
    from otj.store.identity import check_certificate_alarms

    db = open_store(args)
    try:
        check_certificate_alarms(db, now=datetime.now(UTC))  # the gateway certificate's expiry
        alarms = [alarm_out(a) for a in db.alarms.active()]
    finally:
        db.close()
    if args.json:
        echo(_dump(alarms))
        return 0
    if not alarms:
        echo("no alarms")
        return 0
    now = datetime.now(UTC)
    rows = [[a.severity, a.kind, a.subject, _when(a.raised_at, now)] for a in alarms]
    lines = table(["SEVERITY", "KIND", "SUBJECT", "RAISED"], rows).splitlines()
    echo(lines[0])
    for line, alarm in zip(lines[1:], alarms, strict=True):
        echo(line)
        echo("    " + alarm.message.replace("\n", "\n    "))  # whole, on its own line
    return 0
