"""``otj calendars read`` end to end: against the Google fake and against an ICS file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from otj.cli import main
from tests.fakes.google_calendar import GoogleCalendarFake
from tests.integration.calendars.peers import ROOM, GooglePeer, scenario, scenario_ics

REPO = Path(__file__).resolve().parents[3]


def write_config(path: Path, integrations: list[dict[str, object]]) -> Path:
    config = path / "config.yaml"
    config.write_text(yaml.safe_dump({"integrations": integrations}))
    return config


def test_read_from_google_fake(
    tmp_path: Path, google_fake: GoogleCalendarFake, capsys: pytest.CaptureFixture[str]
) -> None:
    peer = GooglePeer(google_fake)
    peer.load(scenario())
    key = tmp_path / "sa.json"
    key.write_text(json.dumps(peer.info))
    config = write_config(
        tmp_path,
        [
            {
                "name": "Workspace",
                "type": "google",
                "service_account_key": f"file:{key}",
                "subject": "calendar-reader@example.com",
                "api_endpoint": google_fake.api_endpoint,
                "num_retries": 0,
            }
        ],
    )
    code = main(
        [
            "calendars",
            "read",
            str(config),
            "--integration",
            "Workspace",
            "--room",
            ROOM,
            "--start",
            "2026-03-24T00:00:00Z",
            "--end",
            "2026-03-25T00:00:00+00:00",
        ]
    )
    out = capsys.readouterr()
    assert code == 0, out.err
    lines = [json.loads(line) for line in out.out.splitlines()]
    assert [e["subject"] for e in lines] == ["Stand-up", "Design review"]
    first = lines[0]
    assert first["start"] == "2026-03-24T09:00:00+01:00"
    assert first["room"] == ROOM
    assert set(first) >= {"id", "ical_uid", "body_html", "attendees", "conference", "updated"}
    assert google_fake.subjects_seen == ["calendar-reader@example.com"]
    assert "BEGIN PRIVATE KEY" not in out.out + out.err


def test_read_from_ics_file_in_a_subprocess(tmp_path: Path) -> None:
    calendars = tmp_path / "calendars"
    calendars.mkdir()
    (calendars / f"{ROOM}.ics").write_bytes(scenario_ics(scenario()))
    config = write_config(
        tmp_path,
        [{"name": "Demo files", "type": "ics", "path_template": str(calendars / "{room}.ics")}],
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "otj",
            "calendars",
            "read",
            str(config),
            "--integration",
            "Demo files",
            "--room",
            ROOM,
            "--start",
            "2026-03-27",
            "--end",
            "2026-03-28",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(e["subject"], e["all_day"]) for e in events] == [
        ("Office closed", True),
        ("Stand-up", False),
    ]
    assert events[0]["start"] == "2026-03-27T00:00:00+00:00"


@pytest.mark.parametrize(
    ("argv_tail", "message"),
    [
        (["--integration", "Nope"], "no integration 'Nope'"),
        (["--integration", "Demo files", "--start", "2026-03-27T10:00"], "offset"),
        (["--integration", "Demo files", "--start", "2026-03-28", "--end", "2026-03-27"], "after"),
    ],
)
def test_bad_arguments(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv_tail: list[str], message: str
) -> None:
    config = write_config(
        tmp_path, [{"name": "Demo files", "type": "ics", "path_template": "x/{room}.ics"}]
    )
    code = main(["calendars", "read", str(config), "--room", ROOM, *argv_tail])
    assert code == 2
    assert message in capsys.readouterr().err


def test_calendar_error_exit_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(
        tmp_path,
        [{"name": "Demo files", "type": "ics", "path_template": str(tmp_path / "{room}.ics")}],
    )
    code = main(["calendars", "read", str(config), "--integration", "Demo files", "--room", ROOM])
    assert code == 1
    assert "CalendarNotFound" in capsys.readouterr().err


def test_invalid_integration_is_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, [{"name": "M365", "type": "graph", "tenant_id": "t"}])
    code = main(["calendars", "read", str(config), "--integration", "M365", "--room", ROOM])
    assert code == 2
    assert "graph integrations need 'client_id'" in capsys.readouterr().err
