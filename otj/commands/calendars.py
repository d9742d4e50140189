"""``otj calendars read CONFIG --integration NAME --room EMAIL [--start ISO] [--end ISO]``."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from otj.commands.runtime import positive_float

DEFAULT_DAYS = 7


def _fail(message: str, code: int = 2) -> int:
    sys.stderr.write(f"otj calendars read: {message}\n")
    return code


def register(subparsers: Any) -> None:
    """Add ``otj calendars``."""
    parser = subparsers.add_parser("calendars", help="read room calendars directly")
    sub = parser.add_subparsers(dest="calendars_command", metavar="WHAT", required=True)
    read = sub.add_parser(
        "read",
        help="print a room's events in a window, one JSON object per line",
        description="Full read of one room's calendar through a configured integration; "
        "prints one JSON object per event (CalendarEvent fields, ISO 8601 times).",
    )
    read.add_argument("config", metavar="CONFIG.yaml", type=Path)
    read.add_argument("--integration", required=True, metavar="NAME")
    read.add_argument("--room", required=True, metavar="EMAIL")
    read.add_argument("--start", metavar="ISO", help="window start (default: now)")
    read.add_argument(
        "--end", metavar="ISO", help=f"window end (default: start + {DEFAULT_DAYS} days)"
    )
    read.add_argument("--timeout", type=positive_float, default=20.0, help="seconds per request")
    read.set_defaults(func=_read)


def parse_moment(text: str) -> datetime:
    """ISO 8601 date-time with offset (``Z`` allowed), or a date (midnight UTC)."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not an ISO 8601 date or date-time: {text!r}") from None
    if len(text) <= 10:  # a bare date
        return datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC)
    if value.utcoffset() is None:
        raise ValueError(f"give {text!r} an offset (e.g. {text}Z or {text}+01:00)")
    return value


def _read(args: argparse.Namespace) -> int:
    from calendars.base import CalendarError
    from calendars.config import IntegrationConfigError, integration_from_mapping
    from calendars.registry import create_source
    from calendars.serialise import event_to_json
    from otj.config.yamlsrc import YamlError, safe_load

    try:
        start = parse_moment(args.start) if args.start else datetime.now(UTC)
        end = parse_moment(args.end) if args.end else start + timedelta(days=DEFAULT_DAYS)
    except ValueError as exc:
        return _fail(str(exc))
    if end <= start:
        return _fail("--end must be after --start")
    from otj.commands.runtime import UsageError, check_readable

    try:
        check_readable(args.config, utf8=True)
        document = safe_load(args.config.read_text(encoding="utf-8")) or {}
    except UsageError as exc:
        return _fail(str(exc))
    except (OSError, UnicodeDecodeError, YamlError) as exc:
        return _fail(f"cannot read {args.config}: {' '.join(str(exc).split())}")
    entries = document.get("integrations") if isinstance(document, dict) else None
    matches = [
        e for e in entries or [] if isinstance(e, dict) and e.get("name") == args.integration
    ]
    if not matches:
        names = ", ".join(str(e.get("name")) for e in entries or [] if isinstance(e, dict))
        return _fail(
            f"no integration {args.integration!r} in {args.config}"
            f" (integrations: {names or 'none'})"
        )
    try:
        config = integration_from_mapping(matches[0])
    except IntegrationConfigError as exc:
        return _fail(str(exc))
    try:
        source = create_source(config, timeout=args.timeout)
        try:
            result = source.sync(args.room, start=start, end=end, state=None)
        finally:
            source.close()
    except CalendarError as exc:
        return _fail(f"{type(exc).__name__}: {exc}", 1)
    for event in sorted(result.events, key=lambda e: (e.start, e.id)):
        sys.stdout.write(json.dumps(event_to_json(event), ensure_ascii=False) + "\n")
    return 0
