"""``otj endpoints token | revoke | list | deliver``: pull-API credentials and delivery status."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from typing import Any

from otj.commands.runtime import add_database_arguments, echo


def register(subparsers: Any) -> None:
    """Add ``otj endpoints``."""
    parser = subparsers.add_parser("endpoints", help="endpoint tokens and delivery status")
    sub = parser.add_subparsers(dest="endpoints_command", metavar="ACTION", required=True)

    token = sub.add_parser(
        "token", help="print a new pull-API token for an endpoint (replaces the old one)"
    )
    token.add_argument("name", help="endpoint name")
    add_database_arguments(token)
    token.set_defaults(func=_token)

    revoke = sub.add_parser("revoke", help="revoke an endpoint's pull-API token")
    revoke.add_argument("name", help="endpoint name")
    add_database_arguments(revoke)
    revoke.set_defaults(func=_revoke)

    listing = sub.add_parser("list", help="endpoints with their delivery state")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    add_database_arguments(listing)
    listing.set_defaults(func=_list)

    deliver = sub.add_parser("deliver", help="run one delivery cycle now and print its report")
    deliver.add_argument(
        "--feedback-url",
        default="",
        help="public base URL of the API for HttpFeedback registration",
    )
    add_database_arguments(deliver)
    deliver.set_defaults(func=_deliver)


def _now() -> datetime:
    return datetime.now(UTC)


def _token(args: argparse.Namespace) -> int:
    from otj.commands.runtime import open_store
    from otj.store.tokens import TokenError

    db = open_store(args)
    try:
        endpoint = db.config.endpoint(args.name)
        if endpoint is None:
            echo(f"no endpoint named {args.name!r}", err=True)
            return 1
        now = _now()
        replaced = db.tokens.revoke("endpoint", args.name, now=now)
        try:
            token, _ = db.tokens.create("endpoint", args.name, now=now, endpoint=args.name)
        except TokenError as exc:
            echo(str(exc), err=True)
            return 1
        echo(token)
        if endpoint.type == "POLY":
            echo(
                f"{'replaced the old token; ' if replaced else ''}this token is shown once: in "
                f"the Poly calendaring service settings enter User Name {endpoint.name}, Email "
                f"{endpoint.room_resource_email}, this token as Password, and otj's HTTPS host "
                "as the Microsoft Exchange Server",
                err=True,
            )
            return 0
        echo(
            f"{'replaced the old token; ' if replaced else ''}this token is shown once: "
            f"use it as 'Authorization: Bearer <token>' for /api/v1/rooms/<room>/meetings, or "
            f"open /panel/<room>?token=<token> once on the room panel",
            err=True,
        )
        return 0
    finally:
        db.close()


def _revoke(args: argparse.Namespace) -> int:
    from otj.commands.runtime import open_store

    db = open_store(args)
    try:
        if not db.tokens.revoke("endpoint", args.name, now=_now()):
            echo(f"{args.name}: no live token", err=True)
            return 1
        echo(f"{args.name}: token revoked")
        return 0
    finally:
        db.close()


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _list(args: argparse.Namespace) -> int:
    from otj.commands.runtime import open_store
    from otj.delivery.devices.poly import read_problems

    db = open_store(args)
    try:
        states = {s.endpoint: s for s in db.delivery.all()}
        tokens = {t.endpoint: t for t in db.tokens.list() if t.kind == "endpoint" and t.endpoint}
        problems = read_problems(db)
        rows: list[dict[str, Any]] = []
        for endpoint in db.config.endpoints():
            state = states.get(endpoint.name)
            token = tokens.get(endpoint.name)
            # pulling devices: a Poly's last EWS read; a PULL device's token use (per minute)
            last_read = state.last_read_at if state else None
            if endpoint.type == "PULL" and token is not None:
                last_read = token.last_used_at
            rows.append(
                {
                    "name": endpoint.name,
                    "type": endpoint.type,
                    "room": endpoint.room_resource_email,
                    "token": token is not None,
                    "last_push": _iso(state.pushed_at if state else None),
                    "last_read": _iso(last_read),
                    "result": state.last_result if state else "",
                    "failures": state.failures if state else 0,
                    "error": state.last_error if state else "",
                    "software": state.software_version if state else "",
                    "mismatch": state.mismatch if state else "",
                    "problem": problems.get(endpoint.name, ""),
                }
            )
        if args.json:
            echo(json.dumps(rows, indent=2))
            return 0
        line = "{:<24} {:<5} {:<36} {:<5} {:<25} {:<25} {}"
        echo(line.format("NAME", "TYPE", "ROOM", "TOKEN", "LAST PUSH", "LAST READ", "STATUS"))
        for row in rows:
            status = row["problem"] or _status(row)
            echo(
                line.format(
                    row["name"],
                    row["type"],
                    row["room"],
                    "token" if row["token"] else "-",
                    (row["last_push"] or "-")[:25],
                    (row["last_read"] or "-")[:25],
                    status,
                )
            )
        return 0
    finally:
        db.close()


def _status(row: dict[str, Any]) -> str:
    if row["type"] in ("POLY", "PULL"):
        return "reads its meetings" if row["last_read"] else "never read its meetings"
    if row["failures"]:
        return f"{row['result']} ×{row['failures']}: {row['error']}"
    return str(row["result"] or "never delivered")


def _deliver(args: argparse.Namespace) -> int:
    from otj.commands.runtime import open_store
    from otj.delivery.engine.runner import DeliveryRunner

    db = open_store(args)
    runner = DeliveryRunner(db, feedback_base_url=args.feedback_url)
    try:
        report = runner.deliver_pending(now=_now())
        echo(json.dumps(report.as_dict(), indent=2, default=str))
        return 1 if report.failed else 0
    finally:
        runner.close()
        db.close()
