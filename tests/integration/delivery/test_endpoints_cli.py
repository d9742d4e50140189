"""``otj endpoints token | revoke | list | deliver`` against a real SQLite store."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from otj.cli import main
from otj.commands.runtime import open_configured_database
from tests.integration.delivery.storehelp import store_meetings

CONFIG = """
profiles: [{name: P}]
endpoint_groups: [{name: G, profile: P}]
endpoints:
  - {name: Fjord, group: G, room_resource_email: fjord@example.com, type: CISCO,
     api_address: 127.0.0.1, api_port: 9, use_https: false, api_username: admin,
     api_password: secret}
"""


def test_token_lifecycle_and_list(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTJ_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("OTJ_DATABASE_URL", raising=False)
    monkeypatch.delenv("OTJ_SECRET_KEY", raising=False)
    monkeypatch.delenv("OTJ_SECRET_KEY_FILE", raising=False)
    (tmp_path / "c.yaml").write_text(CONFIG)
    assert main(["config", "apply", str(tmp_path / "c.yaml")]) == 0
    capsys.readouterr()

    assert main(["endpoints", "token", "Fjord"]) == 0
    first = capsys.readouterr()
    token = first.out.strip()
    assert token.startswith("otj_")
    assert "shown once" in first.err
    assert main(["endpoints", "token", "Fjord"]) == 0
    second = capsys.readouterr()
    assert second.out.strip() != token
    assert "replaced" in second.err
    assert main(["endpoints", "token", "Nobody"]) == 1
    assert "no endpoint" in capsys.readouterr().err

    assert main(["endpoints", "deliver"]) == 0  # the room's calendar was never read: no push
    assert json.loads(capsys.readouterr().out)["pushed"] == 0
    db = open_configured_database(data_dir=tmp_path)
    store_meetings(db, "fjord@example.com", [], now=datetime.now(UTC))
    db.close()
    assert main(["endpoints", "deliver"]) == 1  # nothing listens on port 9
    report = json.loads(capsys.readouterr().out)
    assert report["failed"] == 1
    assert main(["endpoints", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["name"] == "Fjord"
    assert rows[0]["token"] is True
    assert rows[0]["result"] == "unreachable"
    assert rows[0]["failures"] == 1
    assert token not in json.dumps(rows)

    assert main(["endpoints", "revoke", "Fjord"]) == 0
    assert main(["endpoints", "revoke", "Fjord"]) == 1


POLY_CONFIG = """
profiles: [{name: P}]
endpoint_groups: [{name: G, profile: P}]
endpoints:
  - {name: Fjord, group: G, room_resource_email: fjord@example.com, type: POLY}
  - {name: Berg, group: G, room_resource_email: berg@example.com, type: POLY,
     api_password: berg-pass}
"""


def test_list_has_headings_and_says_why_a_poly_endpoint_cannot_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTJ_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("OTJ_DATABASE_URL", raising=False)
    monkeypatch.delenv("OTJ_SECRET_KEY", raising=False)
    monkeypatch.delenv("OTJ_SECRET_KEY_FILE", raising=False)
    (tmp_path / "c.yaml").write_text(POLY_CONFIG)
    assert main(["config", "apply", str(tmp_path / "c.yaml")]) == 0  # no api_address needed
    capsys.readouterr()
    assert main(["endpoints", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == [
        "NAME", "TYPE", "ROOM", "TOKEN", "LAST", "PUSH", "LAST", "READ", "STATUS"
    ]  # fmt: skip
    fjord = next(line for line in lines if line.startswith("Fjord"))
    assert "no EWS credentials: run 'otj endpoints token Fjord'" in fjord
    berg = next(line for line in lines if line.startswith("Berg"))
    assert "never read its meetings" in berg

    # a delivery cycle raises the alarm; a token clears it on the next check
    assert main(["endpoints", "deliver"]) == 0
    capsys.readouterr()
    db = open_configured_database(data_dir=tmp_path)
    alarms = db.alarms.active(kind="poly_delivery")
    assert [a.subject for a in alarms] == ["Fjord"]
    db.delivery.update(
        "Berg",
        now=datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
        last_read_at=datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
    )
    db.close()
    assert main(["endpoints", "token", "Fjord"]) == 0
    told = capsys.readouterr().err
    assert "User Name Fjord, Email fjord@example.com, this token as Password" in told
    assert main(["endpoints", "list", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["Fjord"]["problem"] == ""
    assert rows["Berg"]["last_read"] == "2026-03-02T09:00:00+00:00"
    assert main(["endpoints", "deliver"]) == 0
    capsys.readouterr()
    db = open_configured_database(data_dir=tmp_path)
    assert db.alarms.active(kind="poly_delivery") == []
    db.close()
