"""Benchmark: the console where an administrator waits (issue 18).

1. The live preview of a rule being edited for a 100 KB invitation (an HTML e-mail whose Google
   Meet link comes after 100 KB of agenda), through uvicorn with a signed-in session: the example
   rules plus the edited one, both sides, the dial-plan check. Target: under 300 ms.
2. The rooms page for 2,000 rooms (each with an endpoint, a delivery state, every tenth with an
   alarm). Target: under 500 ms.

Prints the median and 95th percentile of each (and the preview's server-side share).

    .venv/bin/python bench/console.py [--rooms 2000] [--runs 30] [--kib 100] [--database URL]
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from otj.api.app import create_app
from otj.config import apply_text
from otj.store import Database, SecretBox
from tests.integration.delivery.served import serve

PASSWORD = "benchmark password"


def invitation(kib: int) -> bytes:
    """An HTML invitation of ``kib`` KiB whose join link comes last."""
    agenda = "".join(
        f"<p>Item {i}: review of the quarterly numbers, decisions and actions.</p>\n"
        for i in range(kib * 1024 // 70)
    )
    html = (
        f"<html><body><h1>Quarterly review</h1>{agenda}"
        '<p><a href="https://meet.google.com/qxr-bnwt-kzp">Join with Google Meet</a></p>'
        "<p>meet.google.com/qxr-bnwt-kzp</p></body></html>"
    )
    return (
        "From: Ana <ana@example.com>\r\nTo: fjord@rooms.example.com\r\n"
        "Subject: Quarterly review\r\nDate: Mon, 02 Mar 2026 09:00:00 +0000\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" + html
    ).encode()


def configuration(rooms: int) -> str:
    rules = (Path(__file__).resolve().parents[1] / "otj" / "examples" / "rules.yaml").read_text()
    rules = rules.replace("name: Example", "name: Head office")
    endpoints = "".join(
        f"  - name: Room {i:04d}\n    group: Rooms\n"
        f"    room_resource_email: room{i:04d}@rooms.example.com\n    type: PULL\n"
        for i in range(rooms)
    )
    return (
        rules
        + "endpoint_groups:\n  - name: Rooms\n    profile: Head office\nendpoints:\n"
        + endpoints
    )


def sign_in(client: httpx.Client) -> str:
    page = client.get("/console/sign-in")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token
    client.post(
        "/console/sign-in", data={"name": "bench", "password": PASSWORD, "csrf": token.group(1)}
    )
    rooms = client.get("/console/rooms?q=none")
    found = re.search(r'<meta name="csrf-token" content="([^"]+)"', rooms.text)
    assert found, "sign-in failed"
    return found.group(1)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rooms", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--kib", type=int, default=100)
    parser.add_argument("--database", help="default: SQLite in a temporary directory")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database or f"sqlite:///{tmp}/bench.db"
        db = Database(url, box=SecretBox(key_file=Path(tmp) / "key", environ={}))
        db.upgrade()
        now = datetime.now(UTC)
        started = time.perf_counter()
        result = apply_text(db, configuration(args.rooms), actor="bench")
        assert result.ok, [str(p) for p in result.problems]
        for i in range(0, args.rooms, 10):
            db.alarms.raise_alarm("poll", f"room{i:04d}@rooms.example.com", "timed out", now=now)
        db.delivery.update_many(
            {
                f"Room {i:04d}": {"last_result": "ok", "last_read_at": now}
                for i in range(args.rooms)
            },
            now=now,
        )
        print(
            f"set-up: {args.rooms} rooms in {time.perf_counter() - started:.1f} s "
            f"({url.split(':')[0]})"
        )
        db.admins.set("bench", PASSWORD, role="admin", now=now)
        raw = invitation(args.kib)
        form = {
            "name": "Google Meet SIP Guest Join", "meeting_type": "googlemeetsipguestjoin",
            "priority": "5", "enabled": "true", "default_processing_enabled": "true",
            "route_check": "true", "original": "Google Meet SIP Guest Join", "kind": "auto",
        }  # fmt: skip
        with serve(create_app(db)) as base, httpx.Client(base_url=base, timeout=30) as client:
            csrf = sign_in(client)
            preview, server = [], []
            for _ in range(args.runs):
                begin = time.perf_counter()
                answer = client.post(
                    "/console/preview", data=form,
                    files={"file": ("invite.eml", raw, "message/rfc822")},
                    headers={"X-CSRF-Token": csrf},
                )  # fmt: skip
                preview.append((time.perf_counter() - begin) * 1000)
                assert answer.status_code == 200, answer.text[:500]
                assert answer.text.count("qxr-bnwt-kzp@google.pexip.me") >= 2, answer.text[-3000:]
                found = re.search(r'data-elapsed-ms="(\d+)"', answer.text)
                server.append(float(found.group(1)) if found else 0.0)
            rooms, rooms_server = [], []
            for _ in range(args.runs):
                begin = time.perf_counter()
                answer = client.get("/console/rooms")
                rooms.append((time.perf_counter() - begin) * 1000)
                assert answer.status_code == 200
                timing = answer.headers.get("server-timing", "app;dur=0")
                rooms_server.append(float(timing.partition("dur=")[2] or 0))
            assert answer.text.count("<tr") == args.rooms + 1, "every room is on the page"
        db.close()
    print(
        f"live preview, {len(raw) // 1024} KiB invitation: "
        f"median {statistics.median(preview):.0f} ms, "
        f"p95 {percentile(preview, 0.95):.0f} ms (server {statistics.median(server):.0f} ms); "
        "target < 300 ms"
    )
    print(
        f"rooms page, {args.rooms} rooms ({len(answer.content) // 1024} KiB): "
        f"median {statistics.median(rooms):.0f} ms, p95 {percentile(rooms, 0.95):.0f} ms "
        f"(server {statistics.median(rooms_server):.0f} ms); "
        "target < 500 ms"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
